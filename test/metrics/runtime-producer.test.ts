import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { freePort, promtoolCheck } from '../helpers/tools.ts';

const L = { dynamo_namespace: 'ns', dynamo_component: 'c', dynamo_endpoint: 'a' };

describe('runtime.metricProducer', () => {
  it('feeds the stock @opentelemetry/exporter-prometheus: exact, valid for one endpoint; 0.223 repeats HELP/TYPE per scope for two', async () => {
    const rt = testRuntime();
    const comp = rt.namespace('ns').component('c');
    const a = comp.endpoint('a');
    a.setServing(true);
    for (let i = 0; i < 3; i++) a.recorder.requestEnded(a.recorder.requestStarted(10));
    a.createCounter({ name: 'bytes_processed', description: 'processed' }).add(42);

    const port = await freePort();
    const exporter = new PrometheusExporter({ host: '127.0.0.1', port, metricProducers: [rt.metricProducer], preventServerStart: true });
    const provider = new MeterProvider({ readers: [exporter] });
    await exporter.startServer();
    try {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.equal(promtoolCheck(text).status, 0, promtoolCheck(text).output);
      const f = parseExposition(text);
      const scoped = { ...L, otel_scope_name: 'dynamo/ns/c/a' };
      assert.equal(sampleValue(f, 'dynamo_component_requests_total', 'dynamo_component_requests_total', scoped), 3);
      assert.equal(sampleValue(f, 'dynamo_component_request_bytes_total', 'dynamo_component_request_bytes_total', scoped), 30);
      assert.equal(sampleValue(f, 'dynamo_component_bytes_processed_total', 'dynamo_component_bytes_processed_total', scoped), 42);
      assert.equal(sampleValue(f, 'dynamo_component_request_duration_seconds', 'dynamo_component_request_duration_seconds_count', scoped), 3);
      assert.equal(sampleValue(f, 'dynamo_component_errors_total', 'dynamo_component_errors_total', { ...scoped, error_type: 'generate' }), 0);

      // A second endpoint is a second scope: exporter 0.223 writes each family once per scope.
      comp.endpoint('b').setServing(true);
      const two = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const check = promtoolCheck(two);
      assert.equal(check.status, 1);
      assert.match(check.output, /second HELP line for metric name "dynamo_component_requests_total"/);
    } finally {
      await provider.shutdown();
      await rt.shutdown();
    }
  });

  it('produces nothing once the runtime is shut down', async () => {
    const rt = testRuntime();
    const ep = rt.namespace('ns').component('c').endpoint('a');
    ep.setServing(true);
    ep.createCounter({ name: 'n', description: 'n' }).add(1);
    const before = await rt.metricProducer.collect();
    assert.deepEqual(before.resourceMetrics.scopeMetrics.map((s) => s.scope.name).sort(), ['dynamo', 'dynamo/ns/c/a']);
    await rt.shutdown();
    const after = await rt.metricProducer.collect();
    assert.deepEqual(after.resourceMetrics.scopeMetrics, []);
  });
});
