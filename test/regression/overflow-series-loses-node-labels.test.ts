// Bug: two endpoints' custom counters past the default limit (2000) each produced an overflow
// series without their dynamo_* labels — the SDK's own overflow, since our readers let it cut in
// first — so Prometheus saw one duplicated series and kept one (a sum short by the other's
// overflow). OTLP kept 1,999 + overflow where /metrics kept 2,000 + overflow, and the overflow
// attribute was the string label `otel_metric_overflow`, not OpenTelemetry's boolean.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistributedRuntime } from '../../src/index.ts';
import { parseExposition } from '../helpers/exposition.ts';
import { startHttpReceiver } from '../helpers/otlp-receiver.ts';
import { eventually, promtoolCheck, startPrometheus } from '../helpers/tools.ts';

const PER_ENDPOINT = 2500;

describe('regression: the overflow series of a custom metric keeps its node labels', () => {
  it('gives two endpoints past the default limit two overflow series with exact sums, the same on /metrics, OTLP and in Prometheus', async () => {
    const receiver = await startHttpReceiver();
    const rt = await DistributedRuntime.create({
      env: {
        DYN_SYSTEM_ENABLED: 'true',
        DYN_SYSTEM_PORT: '0',
        DYN_SYSTEM_HOST: '127.0.0.1',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_METRIC_EXPORT_INTERVAL: '600000',
      },
      logSink: () => {},
      nats: false,
      handleSignals: false,
    });
    const prom = await startPrometheus(`127.0.0.1:${rt.systemPort}`);
    try {
      const comp = rt.namespace('ns').component('c');
      for (const [name, step] of [['a', 1], ['b', 3]] as const) {
        const hits = comp.endpoint(name).createCounter({ name: 'hits', description: 'hits per user', labelNames: ['user'] });
        for (let i = 0; i < PER_ENDPOINT; i++) hits.add(step, { user: `u${i}` });
      }

      // /metrics: 2,000 + 1 overflow series per endpoint, the overflow with the endpoint's labels.
      const text = await rt.metricsText();
      assert.equal(promtoolCheck(text).status, 0);
      const samples = parseExposition(text).get('dynamo_component_hits_total')!.samples;
      const overflow = samples.filter((s) => s.labels['otel_metric_overflow'] !== undefined);
      assert.deepEqual(
        overflow.map((s) => [s.labels, s.value]),
        [
          [{ dynamo_namespace: 'ns', dynamo_component: 'c', dynamo_endpoint: 'a', otel_metric_overflow: 'true' }, 500],
          [{ dynamo_namespace: 'ns', dynamo_component: 'c', dynamo_endpoint: 'b', otel_metric_overflow: 'true' }, 1500],
        ],
      );
      assert.equal(samples.length, 2 * 2001);

      // The data model OTLP serializes: OpenTelemetry's boolean attribute.
      const { resourceMetrics } = await rt.prometheusReader.collect();
      const points = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).filter((m) => m.descriptor.name === 'dynamo_component_hits_total').flatMap((m) => m.dataPoints as Array<{ attributes: Record<string, unknown> }>);
      assert.deepEqual(points.filter((p) => 'otel.metric.overflow' in p.attributes).map((p) => p.attributes['otel.metric.overflow']), [true, true]);

      // OTLP on the wire: the same series, point for point.
      await rt.forceFlush();
      const exported = receiver.exports.flatMap((e) => e.scopes).flatMap((s) => s.metrics).filter((m) => m.name === 'dynamo_component_hits_total').flatMap((m) => m.points);
      assert.equal(exported.length, 2 * 2001);
      // AnyValue field 2 (bool_value) decodes as "1"; a string would decode as "true".
      assert.deepEqual(
        exported.filter((p) => p.attributes['otel.metric.overflow'] !== undefined).map((p) => [p.attributes['dynamo_endpoint'], p.attributes['otel.metric.overflow'], p.value]),
        [['a', '1', 500], ['b', '1', 1500]],
      );
      const byKey = (labels: Record<string, string>) => `${labels['dynamo_endpoint']}/${labels['user'] ?? 'overflow'}`;
      assert.deepEqual(
        new Map(exported.map((p) => [byKey(p.attributes), p.value])),
        new Map(samples.map((s) => [byKey(s.labels), s.value])),
      );

      // A real Prometheus keeps both overflow series: the sum is exact.
      const total = await eventually(async () => {
        const r = await prom.query('sum(dynamo_component_hits_total)');
        return r[0]?.value[1] === String(PER_ENDPOINT * 4) ? r : undefined;
      }, 30_000, `sum == ${PER_ENDPOINT * 4}`);
      assert.equal(total.length, 1);
      const perEndpoint = await prom.query('dynamo_component_hits_total{otel_metric_overflow="true"}');
      assert.deepEqual(perEndpoint.map((r) => [r.metric['dynamo_endpoint'], r.value[1]]).sort(), [['a', '500'], ['b', '1500']]);
    } finally {
      await prom.stop();
      await rt.shutdown();
      await receiver.stop();
    }
  });
});
