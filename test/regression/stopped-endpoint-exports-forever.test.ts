// Bug: an endpoint that stopped serving kept its series in every exporter for the life of the
// process (ai-dynamo/dynamo#14606 asks for the series of removed workers to go).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testRuntime } from '../helpers/runtime.ts';
import { eventually } from '../helpers/tools.ts';

describe('regression: a stopped endpoint exported forever', () => {
  it('drops its automatic and custom series from /metrics and metricProducer after the retention period', async () => {
    const rt = testRuntime({ stoppedEndpointRetentionMs: 100 });
    const ep = rt.namespace('ns').component('c').endpoint('gone');
    ep.setServing(true);
    ep.createCounter({ name: 'jobs', description: 'jobs' }).add(1);
    assert.match(await rt.metricsText(), /dynamo_endpoint="gone"/);
    ep.setServing(false);
    await eventually(async () => (/dynamo_endpoint="gone"/.test(await rt.metricsText()) ? undefined : true), 5000, 'series gone from /metrics');
    const scopes = (await rt.metricProducer.collect()).resourceMetrics.scopeMetrics.map((s) => s.scope.name);
    assert.deepEqual(scopes, ['dynamo']);
    await rt.shutdown();
  });
});
