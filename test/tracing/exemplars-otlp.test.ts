/**
 * Exemplars over OTLP, on all three protocols, decoded by the test receiver: a sampled request's
 * duration and time-to-first-response data points carry its server span's trace and span ids, its
 * exact measured value and the time it was recorded; with delta temporality an export carries only
 * the exemplars of its own interval. Nothing else in the export gains an exemplar.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { DistributedRuntime, EndpointMetric } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { exportedValue, startGrpcReceiver, startHttpReceiver, type Export, type ExemplarPoint, type Receiver } from '../helpers/otlp-receiver.ts';
import { inMemoryTracing, installTraceGlobals } from '../helpers/tracing.ts';
import { waitFor } from '../helpers/wait.ts';

installTraceGlobals();

const L = { dynamo_namespace: 'ns', dynamo_component: 'comp', dynamo_endpoint: 'traced' };
const DURATION = EndpointMetric.duration.name;
const FIRST_RESPONSE = EndpointMetric.firstResponse.name;

/** Every exemplar of the export, with the metric it came with. */
function allExemplars(exp: Export): Array<{ metric: string; exemplar: ExemplarPoint }> {
  return exp.scopes.flatMap((s) => s.metrics.flatMap((m) => m.points.flatMap((p) => (p.exemplars ?? []).map((exemplar) => ({ metric: m.name, exemplar })))));
}

async function start(nats: NatsServer, receiver: Receiver, protocol: string, extraEnv: Record<string, string> = {}) {
  const tracing = inMemoryTracing();
  const env = { NATS_SERVER: nats.url, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_METRIC_EXPORT_INTERVAL: '60000', ...extraEnv };
  const rt = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {}, tracerProvider: tracing.provider });
  const endpoint = rt.namespace('ns').component('comp').endpoint('traced');
  await endpoint.serve((text: string) => text);
  const client = await endpoint.client();
  await client.waitForInstances();
  /** Makes one request; resolves with its server span's ids once the span has ended. */
  const request = async (text: string) => {
    const before = tracing.spans().length;
    assert.deepEqual(await client.generate(text).collect(), [text]);
    const span = await waitFor(() => tracing.spans().slice(before).find((s) => s.kind === SpanKind.SERVER), { what: 'the server span' });
    return span.spanContext();
  };
  const close = async () => {
    await client.close();
    await rt.shutdown();
  };
  return { rt, endpoint, request, close };
}

describe('exemplars over OTLP', () => {
  let nats: NatsServer;
  before(async () => {
    nats = await startNatsServer();
  });
  after(() => nats.stop());

  for (const protocol of ['http/protobuf', 'http/json', 'grpc'] as const) {
    it(`${protocol}: the duration and time-to-first-response points carry the sampled request's trace, value and time`, async () => {
      const receiver = protocol === 'grpc' ? await startGrpcReceiver() : await startHttpReceiver();
      const app = await start(nats, receiver, protocol);
      try {
        const span = await app.request('traced');
        // One request: the histogram's sum is its duration; a one-value answer's first response is its end.
        const recorder = app.endpoint.recorder;
        const duration = recorder.durationSum;
        assert.equal(recorder.firstResponse.sum, duration);
        const recorded = recorder.durationExemplars.snapshot()!.find((e) => e !== undefined)!;

        await app.rt.forceFlush();
        const exp = receiver.exports.at(-1)!;
        for (const metric of [DURATION, FIRST_RESPONSE]) {
          const point = exportedValue(exp, metric, L);
          assert.equal(point.count, 1, metric);
          assert.equal(point.exemplars!.length, 1, metric);
          const [exemplar] = point.exemplars!;
          assert.deepEqual({ ...exemplar!, timeUnixNano: undefined }, { traceId: span.traceId, spanId: span.spanId, value: duration, timeUnixNano: undefined, filteredAttributes: {} }, metric);
          // Recorded at the request's end, to the nanosecond the clock gave (epoch ms with a fraction).
          assert.ok(Math.abs(Number(exemplar!.timeUnixNano) / 1e6 - recorded.timeMs) < 1e-3, `${metric}: ${exemplar!.timeUnixNano} vs ${recorded.timeMs} ms`);
        }
        // Only those two data points of the export carry one; the caller's histograms and the counters none.
        assert.deepEqual(allExemplars(exp).map((e) => e.metric).sort(), [DURATION, FIRST_RESPONSE].sort());
      } finally {
        await app.close();
        await receiver.stop();
      }
    });
  }

  it('delta temporality: an export carries the exemplars recorded in its interval only', async () => {
    const receiver = await startHttpReceiver();
    const app = await start(nats, receiver, 'http/protobuf', { OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta' });
    try {
      const first = await app.request('one');
      await app.rt.forceFlush();
      const durationExemplars = () => exportedValue(receiver.exports.at(-1)!, DURATION, L).exemplars!.map((e) => e.spanId);
      assert.deepEqual(durationExemplars(), [first.spanId]);

      await app.rt.forceFlush();
      assert.equal(exportedValue(receiver.exports.at(-1)!, DURATION, L).count, 0);
      assert.deepEqual(durationExemplars(), [], 'an interval without requests has no exemplars');

      const second = await app.request('two');
      await app.rt.forceFlush();
      assert.equal(exportedValue(receiver.exports.at(-1)!, DURATION, L).count, 1);
      // Both requests are fast enough to share a bucket; either way only the second is of this interval.
      assert.deepEqual(durationExemplars(), [second.spanId]);
    } finally {
      await app.close();
      await receiver.stop();
    }
  });
});
