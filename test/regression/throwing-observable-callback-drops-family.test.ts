// Bug: an observable callback that threw took its whole family out of the scrape, without a word.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExposition } from '../helpers/exposition.ts';
import { captureLogs, testRuntime } from '../helpers/runtime.ts';

describe('regression: an observable callback that throws', () => {
  it('keeps what it observed before throwing and every other series, and is logged once', async () => {
    const logs = captureLogs();
    const rt = testRuntime({ logSink: logs.sink });
    const comp = rt.namespace('ns').component('c');
    let calls = 0;
    comp.endpoint('a').createObservableGauge({ name: 'depth', description: 'depth', labelNames: ['q'] }, (r) => {
      calls++;
      r.observe(1, { q: 'first' });
      throw new Error('broken probe');
    });
    comp.endpoint('b').createObservableGauge({ name: 'depth', description: 'depth', labelNames: ['q'] }, async (r) => {
      r.observe(2, { q: 'second' });
      await Promise.resolve();
      throw new Error('broken async probe');
    });
    comp.endpoint('c').createObservableGauge({ name: 'depth', description: 'depth', labelNames: ['q'] }, (r) => r.observe(3, { q: 'third' }));
    for (let scrape = 0; scrape < 3; scrape++) {
      const samples = parseExposition(await rt.metricsText()).get('dynamo_component_depth')!.samples;
      assert.deepEqual(samples.map((s) => [s.labels['dynamo_endpoint'], s.labels['q'], s.value]).sort(), [['a', 'first', 1], ['b', 'second', 2], ['c', 'third', 3]]);
    }
    assert.equal(calls, 3);
    const failures = logs.lines.filter((l) => l['msg'] === 'observable callback failed; what it observed before failing is kept');
    // One line per metric name, whichever endpoint's callback failed first.
    assert.deepEqual(failures.map((l) => [l['level'], l['metric'], (l['error'] as { message: string }).message]), [['warn', 'dynamo_component_depth', 'broken probe']]);
    await rt.shutdown();
  });
});
