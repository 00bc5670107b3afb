// Bug: label sets were keyed by joining their values with "\0", so {a: "x\0", b: ""} and
// {a: "x", b: "\0"} shared a key and one series took the other's measurements.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExposition } from '../helpers/exposition.ts';
import { testRuntime } from '../helpers/runtime.ts';

describe('regression: series keys cannot collide', () => {
  it('keeps label sets whose values differ only in where a NUL sits apart', async () => {
    const rt = testRuntime();
    const c = rt.namespace('ns').component('c').endpoint('e').createCounter({ name: 'c', description: 'c', labelNames: ['a', 'b'] });
    c.add(1, { a: 'x\0', b: '' });
    c.add(2, { a: 'x', b: '\0' });
    c.add(4, { a: 'x\0', b: '\0' });
    c.add(8, { a: 'x\0\0' });
    const samples = parseExposition(await rt.metricsText()).get('dynamo_component_c_total')!.samples;
    assert.deepEqual(samples.map((s) => [s.labels['a'], s.labels['b'], s.value]), [['x\0', undefined, 1], ['x', '\0', 2], ['x\0', '\0', 4], ['x\0\0', undefined, 8]]);
    await rt.shutdown();
  });
});
