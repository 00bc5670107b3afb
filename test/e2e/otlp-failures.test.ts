import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime, ERROR_TYPES } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { exportedValue, startHttpReceiver } from '../helpers/otlp-receiver.ts';
import { captureLogs } from '../helpers/runtime.ts';
import { freePort } from '../helpers/tools.ts';
import { waitFor } from '../helpers/wait.ts';

const L = { dynamo_namespace: 'ns', dynamo_component: 'comp', dynamo_endpoint: 'echo' };

/** A server runtime (with `env`) serving an echo endpoint, and a client for it from a second runtime. */
async function echoSetup(env: Record<string, string>) {
  const server = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {} });
  const clientRt = await DistributedRuntime.create({ env: { NATS_SERVER: env['NATS_SERVER']! }, handleSignals: false, logSink: () => {} });
  await server.namespace('ns').component('comp').endpoint('echo').serve((req: string) => req);
  const client = await clientRt.namespace('ns').component('comp').endpoint('echo').client();
  await client.waitForInstances();
  return { server, clientRt, client };
}

describe('OTLP with a collector that is down, hanging, then back', () => {
  let nats: NatsServer;
  before(async () => {
    nats = await startNatsServer();
  });
  after(() => nats.stop());

  it('never fails or holds a request, logs failures rate-limited, and the next good export has the exact totals', async () => {
    const port = await freePort(); // nothing listens here yet: the collector is down
    const logs = captureLogs();
    const env = {
      NATS_SERVER: nats.url,
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${port}/v1/metrics`,
      OTEL_METRIC_EXPORT_INTERVAL: '150',
      OTEL_METRIC_EXPORT_TIMEOUT: '5000',
    };
    // At debug level the runtime logs every failed export: its own count of them, beside the one warning.
    const server = await DistributedRuntime.create({ env, handleSignals: false, logSink: logs.sink, logLevel: 'debug' });
    const clientRt = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
    const ep = server.namespace('ns').component('comp').endpoint('echo');
    await ep.serve((req: number) => req * 2);
    const client = await clientRt.namespace('ns').component('comp').endpoint('echo').client();
    await client.waitForInstances();
    const send = async (n: number): Promise<number[]> => (await Promise.all(Array.from({ length: n }, (_, i) => client.generate<number>(i).collect()))).flat();
    const exportFailures = () => logs.lines.filter((l) => String(l['msg']).startsWith('OTLP metrics export failed'));
    const warnings = () => exportFailures().filter((l) => l['level'] === 'warn');
    let receiver: Awaited<ReturnType<typeof startHttpReceiver>> | undefined;
    try {
      // 1. down: connection refused, export after export — one warning, however many failures
      assert.deepEqual(await send(40), Array.from({ length: 40 }, (_, i) => i * 2));
      await waitFor(() => exportFailures().length, { what: '5 failed exports (collector down)', until: (n) => n >= 5 });
      assert.equal(warnings().length, 1, 'failures are logged once, then summarized at most once a minute');

      // 2. up but refusing (HTTP 400): failures now counted where they arrive, still no second warning
      receiver = await startHttpReceiver(port);
      receiver.mode = 'refuse';
      const failuresBefore = exportFailures().length;
      await waitFor(() => ({ atReceiver: receiver!.refused, logged: exportFailures().length - failuresBefore }), {
        what: '3 refused exports counted at the receiver and by the runtime',
        until: (n) => n.atReceiver >= 3 && n.logged >= 3,
      });
      assert.equal(warnings().length, 1, 'still the one warning');
      assert.equal(receiver.exports.length, 0);

      // 3. up but hanging: an export is in flight and never answered, requests go on regardless
      receiver.mode = 'hang';
      // An export is held unanswered from before the 60 requests until after they all complete.
      await waitFor(() => receiver!.pending, { what: 'an export hanging', until: (n) => n >= 1 });
      assert.deepEqual(await send(60), Array.from({ length: 60 }, (_, i) => i * 2));
      assert.equal(receiver.exports.length, 0);

      // 4. back: the next successful export carries the exact cumulative totals
      receiver.mode = 'ok';
      receiver.releasePending();
      const exp = await waitFor(() => receiver!.exports.at(-1), { what: 'a successful export' });
      assert.equal(exportedValue(exp, 'dynamo_component_requests_total', L).value, 100);
      assert.equal(exportedValue(exp, 'dynamo_component_inflight_requests', L).value, 0);
      assert.equal(exportedValue(exp, 'dynamo_component_request_duration_seconds', L).count, 100);
      for (const errorType of ERROR_TYPES) assert.equal(exportedValue(exp, 'dynamo_component_errors_total', { ...L, error_type: errorType }).value, 0, errorType);
      await waitFor(() => logs.lines.some((l) => l['msg'] === 'OTLP metrics export works again'), { what: 'recovery logged' });
      assert.equal(warnings().length, 1, 'no warning for the failures during the hang either');
    } finally {
      await client.close();
      await clientRt.shutdown();
      await server.shutdown();
      await receiver?.stop();
    }
  });

  it('shutdown flushes a final export with the exact totals', async () => {
    const receiver = await startHttpReceiver();
    const env = { NATS_SERVER: nats.url, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '60000' };
    const { server, clientRt, client } = await echoSetup(env);
    try {
      for (let i = 0; i < 13; i++) await client.generate('ping').collect();
      await client.close();
      assert.equal(receiver.exports.length, 0, 'the interval has not elapsed');
      await server.shutdown();
      const last = receiver.exports.at(-1)!;
      assert.equal(exportedValue(last, 'dynamo_component_requests_total', L).value, 13);
      assert.equal(exportedValue(last, 'dynamo_component_request_bytes_total', L).value, 13 * 6);
    } finally {
      await clientRt.shutdown();
      await server.shutdown();
      await receiver.stop();
    }
  });

  it('exports deltas when asked (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta), in-flight stays cumulative', async () => {
    const receiver = await startHttpReceiver();
    const env = {
      NATS_SERVER: nats.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_METRIC_EXPORT_INTERVAL: '60000',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
    };
    const { server, clientRt, client } = await echoSetup(env);
    try {
      for (let i = 0; i < 4; i++) await client.generate('a').collect();
      await server.forceFlush();
      for (let i = 0; i < 3; i++) await client.generate('a').collect();
      await server.forceFlush();
      await client.close();
      const [first, second] = receiver.exports.slice(-2) as [NonNullable<(typeof receiver.exports)[0]>, NonNullable<(typeof receiver.exports)[0]>];
      const requests = (e: typeof first) => exportedValue(e, 'dynamo_component_requests_total', L).value;
      assert.deepEqual([requests(first), requests(second)], [4, 3]);
      assert.equal(exportedValue(second, 'dynamo_component_request_duration_seconds', L).count, 3);
      const metric = (e: typeof first, name: string) => e.scopes.flatMap((s) => s.metrics).find((m) => m.name === name)!;
      assert.equal(metric(second, 'dynamo_component_requests_total').temporality, 1); // DELTA
      assert.equal(metric(second, 'dynamo_component_inflight_requests').temporality, 2); // CUMULATIVE
    } finally {
      await clientRt.shutdown();
      await server.shutdown();
      await receiver.stop();
    }
  });
});
