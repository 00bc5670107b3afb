// Bug: target_info was rendered from the resource before its asynchronous attributes (resource
// detectors) settled: the attribute was missing and OpenTelemetry's diag logged an error on
// every early scrape.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusReader } from '../../src/index.ts';
import { parseExposition } from '../helpers/exposition.ts';
import { testRuntime } from '../helpers/runtime.ts';

function captureDiag(): string[] {
  const errors: string[] = [];
  const log = (msg: string) => errors.push(msg);
  diag.setLogger({ error: log, warn: () => {}, info: () => {}, debug: () => {}, verbose: () => {} }, { logLevel: DiagLogLevel.ERROR, suppressOverrideMessage: true });
  return errors;
}

describe('regression: target_info and asynchronous resource attributes', () => {
  it('waits for attributes that settle, and renders the settled ones after the bound for one that never does', async () => {
    const errors = captureDiag();
    try {
      let settle: (v: string) => void = () => {};
      const detected = new Promise<string>((resolve) => (settle = resolve));
      const never = new Promise<string>(() => {});
      const reader = new PrometheusReader({ resourceWaitMs: 300 });
      const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'app', 'host.id': detected }), readers: [reader] });
      const rt = testRuntime({ meterProvider: provider, prometheusReader: reader });
      setTimeout(() => settle('h-1'), 50);
      const info = parseExposition(await rt.metricsText()).get('target_info')!.samples;
      assert.deepEqual(info.map((s) => [s.labels['service_name'], s.labels['host_id']]), [['app', 'h-1']]);

      const slowReader = new PrometheusReader({ resourceWaitMs: 200 });
      const slow = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'slow', 'host.id': never }), readers: [slowReader] });
      const rt2 = testRuntime({ meterProvider: slow, prometheusReader: slowReader });
      const started = Date.now();
      const info2 = parseExposition(await rt2.metricsText()).get('target_info')!.samples;
      assert.ok(Date.now() - started >= 190, 'the scrape waited for the resource');
      assert.deepEqual(info2.map((s) => s.labels), [{ service_name: 'slow' }]);
      assert.deepEqual(errors, []);
      await rt.shutdown();
      await rt2.shutdown();
    } finally {
      diag.disable();
    }
  });
});
