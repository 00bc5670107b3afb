// Bug: an observable callback that never settled hung every scrape forever (collection had no
// timeout), each stuck scrape holding its memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExposition } from '../helpers/exposition.ts';
import { captureLogs, testRuntime } from '../helpers/runtime.ts';

describe('regression: an observable callback that never settles', () => {
  it('costs a scrape its own value only, within the timeout, and is not called again while pending', async () => {
    const logs = captureLogs();
    const rt = testRuntime({ logSink: logs.sink, observableTimeoutMs: 200 });
    const ep = rt.namespace('ns').component('c').endpoint('e');
    let calls = 0;
    let release: (() => void) | undefined;
    ep.createObservableGauge({ name: 'stuck', description: 'stuck' }, (r) => {
      calls++;
      r.observe(1);
      return new Promise<void>((resolve) => {
        release = () => {
          r.observe(99); // too late for the collection that called it: ignored
          resolve();
        };
      });
    });
    ep.createObservableGauge({ name: 'fine', description: 'fine' }, (r) => r.observe(7));
    for (let scrape = 0; scrape < 3; scrape++) {
      const families = parseExposition(await rt.metricsText());
      assert.equal(families.get('dynamo_component_fine')!.samples[0]!.value, 7);
      // What the callback observed before hanging stays (the SDK keeps a cumulative series' last value).
      assert.deepEqual(families.get('dynamo_component_stuck')!.samples.map((s) => s.value), [1]);
    }
    assert.equal(calls, 1);
    release!();
    await new Promise((resolve) => setImmediate(resolve));
    const after = parseExposition(await rt.metricsText());
    assert.deepEqual(after.get('dynamo_component_stuck')!.samples.map((s) => s.value), [1]);
    assert.equal(calls, 2);
    assert.deepEqual(
      logs.lines.filter((l) => String(l['msg']).startsWith('observable callback')).map((l) => l['msg']),
      ['observable callback did not settle in time; this collection goes on without it', 'observable callback still running from an earlier collection; skipped'],
    );
    await rt.shutdown();
  });
});
