import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testRuntime } from '../helpers/runtime.ts';
import { eventually } from '../helpers/tools.ts';

const scopesOf = async (rt: ReturnType<typeof testRuntime>) => (await rt.metricProducer.collect()).resourceMetrics.scopeMetrics.map((s) => s.scope.name).sort();
const endpointsOn = (text: string) => [...new Set([...text.matchAll(/dynamo_endpoint="([^"]*)"/g)].map((m) => m[1]))].sort();

describe('endpoint metrics follow the endpoint lifecycle', () => {
  it('keeps a stopped endpoint\'s series (automatic and custom) for the retention period, then drops them from every reader; serving again brings them back', async () => {
    const rt = testRuntime({ stoppedEndpointRetentionMs: 150 });
    const comp = rt.namespace('ns').component('c');
    const a = comp.endpoint('a');
    const b = comp.endpoint('b');
    for (const ep of [a, b]) {
      ep.setServing(true);
      ep.recorder.requestEnded(ep.recorder.requestStarted(5));
      ep.createCounter({ name: 'jobs', description: 'jobs' }).add(2);
    }
    assert.deepEqual(endpointsOn(await rt.metricsText()), ['a', 'b']);

    a.setServing(false);
    // Right after the stop the final values are still there, for every reader to see once.
    assert.deepEqual(endpointsOn(await rt.metricsText()), ['a', 'b']);
    assert.deepEqual(await scopesOf(rt), ['dynamo', 'dynamo/ns/c/a', 'dynamo/ns/c/b']);
    await eventually(async () => (endpointsOn(await rt.metricsText()).join() === 'b' ? true : undefined), 5000, 'a retired from /metrics');
    assert.deepEqual(await scopesOf(rt), ['dynamo', 'dynamo/ns/c/b']);

    a.setServing(true);
    const text = await rt.metricsText();
    assert.deepEqual(endpointsOn(text), ['a', 'b']);
    assert.match(text, /^dynamo_component_requests_total\{dynamo_component="c",dynamo_endpoint="a",dynamo_namespace="ns"\} 1$/m);
    assert.match(text, /^dynamo_component_jobs_total\{dynamo_component="c",dynamo_endpoint="a",dynamo_namespace="ns"\} 2$/m);
    await rt.shutdown();
  });

  it('a stop and restart within the retention period changes nothing', async () => {
    const rt = testRuntime({ stoppedEndpointRetentionMs: 60_000 });
    const a = rt.namespace('ns').component('c').endpoint('a');
    a.setServing(true);
    a.setServing(false);
    a.setServing(true);
    assert.deepEqual(await scopesOf(rt), ['dynamo', 'dynamo/ns/c/a']);
    await rt.shutdown();
  });
});
