// Bug: one endpoint's automatic and custom metrics went out as two ScopeMetrics with the same
// instrumentation scope (one from our producer, one from the SDK).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EndpointMetric } from '../../src/index.ts';
import { startHttpReceiver } from '../helpers/otlp-receiver.ts';
import { testRuntime } from '../helpers/runtime.ts';

describe('regression: one ScopeMetrics per endpoint', () => {
  it('merges automatic and custom metrics of an endpoint into one scope, over OTLP and in metricProducer', async () => {
    const receiver = await startHttpReceiver();
    const rt = testRuntime({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '600000' } });
    await rt.start(); // loads the OTLP exporter: the constructor starts nothing
    try {
      const ep = rt.namespace('ns').component('c').endpoint('e');
      ep.setServing(true);
      ep.createCounter({ name: 'jobs', description: 'jobs' }).add(1);
      await rt.forceFlush();
      const scopes = receiver.exports.flatMap((e) => e.scopes).filter((s) => s.name === 'dynamo/ns/c/e');
      assert.equal(scopes.length, 1);
      assert.ok(scopes[0]!.metrics.some((m) => m.name === 'dynamo_component_jobs_total'));
      assert.ok(scopes[0]!.metrics.some((m) => m.name === 'dynamo_component_requests_total'));
      const produced = (await rt.metricProducer.collect()).resourceMetrics.scopeMetrics.filter((s) => s.scope.name === 'dynamo/ns/c/e');
      assert.equal(produced.length, 1);
      // the twelve automatic families and the custom counter
      assert.equal(Object.keys(EndpointMetric).length, 12);
      assert.equal(produced[0]!.metrics.length, 13);
    } finally {
      await rt.shutdown();
      await receiver.stop();
    }
  });
});
