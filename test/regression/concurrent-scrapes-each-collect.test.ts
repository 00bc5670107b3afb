// Bug: N concurrent scrapes each ran a full collection (every observable callback N times, N
// snapshots of every endpoint).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testRuntime } from '../helpers/runtime.ts';

describe('regression: concurrent scrapes share one collection', () => {
  it('calls each observable callback once for ten scrapes started together, and again for the next one', async () => {
    const rt = testRuntime();
    const ep = rt.namespace('ns').component('c').endpoint('e');
    ep.setServing(true);
    let calls = 0;
    ep.createObservableCounter({ name: 'polls', description: 'polls' }, async (r) => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      r.observe(calls);
    });
    const texts = await Promise.all(Array.from({ length: 10 }, () => rt.metricsText()));
    assert.equal(calls, 1);
    assert.equal(new Set(texts).size, 1);
    assert.match(texts[0]!, /^dynamo_component_polls_total\{[^}]*\} 1$/m);
    assert.match(await rt.metricsText(), /^dynamo_component_polls_total\{[^}]*\} 2$/m);
    assert.equal(calls, 2);
    await rt.shutdown();
  });
});
