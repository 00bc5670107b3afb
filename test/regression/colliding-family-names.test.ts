// Bug: custom names whose exposition names collide with another family's were accepted, e.g. a
// gauge `request_duration_seconds_count` next to the automatic histogram, and promtool then failed
// ("second HELP line"). Every name a family writes (`_total`, `_created`, `_count`, `_sum`,
// `_bucket`, `_info`) is now claimed at creation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DynamoError, ErrorCode } from '../../src/index.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { promtoolCheck } from '../helpers/tools.ts';

const conflict = (pattern: RegExp) => (err: unknown) => err instanceof DynamoError && err.code === ErrorCode.MetricConflict && pattern.test(err.message);

describe('regression: custom metric names that collide with another family', () => {
  it('refuses a name that is a sample name of an automatic metric', () => {
    const rt = testRuntime();
    const ep = rt.namespace('ns').component('c').endpoint('e');
    for (const suffix of ['_count', '_sum', '_bucket', '_created']) {
      assert.throws(
        () => ep.createGauge({ name: `request_duration_seconds${suffix}`, description: 'd' }),
        conflict(new RegExp(`dynamo_component_request_duration_seconds${suffix}, which belongs to the metric dynamo_component_request_duration_seconds$`)),
      );
    }
    assert.throws(() => ep.createGauge({ name: 'requests', description: 'd' }), conflict(/dynamo_component_requests, which belongs to the metric dynamo_component_requests_total/));
    assert.throws(() => ep.createGauge({ name: 'requests_created', description: 'd' }), conflict(/belongs to the metric dynamo_component_requests_total/));
  });

  it('refuses collisions between custom families, whichever comes first', () => {
    const rt = testRuntime();
    const ep = rt.namespace('ns').component('c').endpoint('e');
    ep.createHistogram({ name: 'x', description: 'x' });
    assert.throws(() => ep.createGauge({ name: 'x_count', description: 'd' }), conflict(/dynamo_component_x_count, which belongs to the metric dynamo_component_x$/));
    assert.throws(() => ep.createCounter({ name: 'x_bucket', description: 'd' }), conflict(/belongs to the metric dynamo_component_x$/));
  });

  it('refuses, as an invalid name, a suffix that would be read as another type\'s sample even without a collision', () => {
    const rt = testRuntime();
    const ep = rt.namespace('ns').component('c').endpoint('e');
    const invalid = (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidMetricName && /reserves for the samples of another metric type/.test(e.message);
    for (const name of ['y_sum', 'y_count', 'y_bucket', 'y_total', 'y_created', 'y_info']) assert.throws(() => ep.createGauge({ name, description: 'd' }), invalid, name);
    assert.throws(() => ep.createHistogram({ name: 'y_total', description: 'd' }), invalid);
    assert.throws(() => ep.createCounter({ name: 'y_created', description: 'd' }), invalid);
    assert.equal(ep.createCounter({ name: 'y_total', description: 'd' }).name, 'dynamo_component_y_total');
  });

  it('still accepts the same definition twice and keeps the exposition valid', async () => {
    const rt = testRuntime();
    const comp = rt.namespace('ns').component('c');
    const h1 = comp.endpoint('a').createHistogram({ name: 'x', description: 'x', buckets: [1] });
    const h2 = comp.endpoint('b').createHistogram({ name: 'x', description: 'x', buckets: [1] });
    assert.throws(() => comp.endpoint('b').createGauge({ name: 'x_sum', description: 'd' }), conflict(/x_sum/));
    h1.record(0.5);
    h2.record(2);
    const text = await rt.metricsText();
    assert.equal(promtoolCheck(text).status, 0, text);
    await rt.shutdown();
  });
});
