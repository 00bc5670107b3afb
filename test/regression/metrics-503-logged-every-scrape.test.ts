// Bug: a /metrics that cannot be served for a reason we can name (e.g. a PrometheusReader that is
// in no provider's readers, or the moments of shutdown) logged an error on every scrape.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { DistributedRuntime, PrometheusReader } from '../../src/index.ts';
import { captureLogs } from '../helpers/runtime.ts';

describe('regression: /metrics unavailable is logged once, not per scrape', () => {
  it('answers 503 naming the fix every time and warns once', async () => {
    const logs = captureLogs();
    const provider = new MeterProvider();
    const rt = await DistributedRuntime.create({
      env: { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' },
      nats: false,
      meterProvider: provider,
      prometheusReader: new PrometheusReader(), // in no provider's readers
      handleSignals: false,
      logSink: logs.sink,
    });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`http://127.0.0.1:${rt.systemPort}/metrics`);
        assert.equal(res.status, 503);
        assert.match(await res.text(), /add it to your provider's readers and pass it as prometheusReader/);
      }
      assert.deepEqual(logs.lines.filter((l) => l['level'] === 'warn' || l['level'] === 'error').map((l) => [l['level'], l['msg']]), [['warn', '/metrics unavailable']]);
    } finally {
      await rt.shutdown();
      await provider.shutdown();
    }
  });
});
