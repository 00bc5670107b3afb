// Bug: with the application's own MeterProvider (or 'global', or a zero-code sdk-node) and no
// PrometheusReader passed, every scrape answered 503 and logged "rendering /metrics failed" at
// error level; a warning also claimed the OTLP variables were ignored although the SDK uses them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { DistributedRuntime } from '../../src/index.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { captureLogs } from '../helpers/runtime.ts';

describe("regression: /metrics with the application's provider and no reader passed", () => {
  it('answers 200 with exact values and logs no warning or error', async () => {
    const provider = new MeterProvider();
    const logs = captureLogs();
    const rt = await DistributedRuntime.create({
      env: { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' },
      nats: false,
      meterProvider: provider,
      handleSignals: false,
      logSink: logs.sink,
      logLevel: 'info',
    });
    try {
      const ep = rt.namespace('ns').component('c').endpoint('e');
      ep.setServing(true);
      ep.recorder.requestEnded(ep.recorder.requestStarted(7));
      ep.createGauge({ name: 'depth', description: 'depth' }).record(3);
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`http://127.0.0.1:${rt.systemPort}/metrics`);
        assert.equal(res.status, 200);
        const f = parseExposition(await res.text());
        const L = { dynamo_namespace: 'ns', dynamo_component: 'c', dynamo_endpoint: 'e' };
        assert.equal(sampleValue(f, 'dynamo_component_request_bytes_total', 'dynamo_component_request_bytes_total', L), 7);
        assert.equal(sampleValue(f, 'dynamo_component_depth', 'dynamo_component_depth', L), 3);
      }
      assert.deepEqual(logs.lines.filter((l) => l['level'] === 'warn' || l['level'] === 'error'), []);
      assert.deepEqual(logs.lines.filter((l) => String(l['msg']).startsWith('OTLP')).map((l) => [l['level'], l['msg']]), [
        ['info', 'OTLP export is left to your MeterProvider (its readers, e.g. sdk-node configured by the same OTEL_* variables)'],
      ]);
    } finally {
      await rt.shutdown();
      await provider.shutdown();
    }
  });
});
