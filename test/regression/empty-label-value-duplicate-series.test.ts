// Bug: `add(1)` and `add(1, { a: '' })` became two lines of one Prometheus series (an empty label
// value is no label to Prometheus), and Prometheus kept one of them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExposition } from '../helpers/exposition.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { promtoolCheck } from '../helpers/tools.ts';

describe('regression: an empty label value is a missing label', () => {
  it('counts add(1), add(1, {a: ""}) and add(1, {a: undefined}) in one series', async () => {
    const rt = testRuntime();
    const ep = rt.namespace('ns').component('c').endpoint('e');
    const c = ep.createCounter({ name: 'c', description: 'c', labelNames: ['a', 'b'] });
    c.add(1);
    c.add(1, { a: '' });
    c.add(1, { a: undefined as unknown as string, b: '' });
    c.add(5, { a: 'x' });
    c.add(7, { a: 'x', b: '' });
    const text = await rt.metricsText();
    assert.equal(promtoolCheck(text).status, 0);
    assert.deepEqual(
      parseExposition(text).get('dynamo_component_c_total')!.samples.map((s) => [s.labels['a'] ?? null, s.labels['b'] ?? null, s.value]),
      [[null, null, 3], ['x', null, 12]],
    );
    const { resourceMetrics } = await rt.prometheusReader.collect();
    const points = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'dynamo_component_c_total')!.dataPoints;
    assert.equal(points.length, 2, 'OTLP sees the same two series');
    await rt.shutdown();
  });
});
