// Bug: two meters of one provider defining the same metric name and label set gave two identical
// /metrics lines (scope labels are off by default); Prometheus silently kept one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExposition } from '../helpers/exposition.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { promtoolCheck } from '../helpers/tools.ts';

describe('regression: one family from several scopes with clashing label sets', () => {
  it('adds otel_scope_* labels to that family only, so no line is a duplicate', async () => {
    const rt = testRuntime();
    const a = rt.meterProvider.getMeter('lib-a', '1.0.0');
    const b = rt.meterProvider.getMeter('lib-b', '2.0.0');
    a.createCounter('jobs_total', { description: 'jobs' }).add(2, { queue: 'q' });
    b.createCounter('jobs_total', { description: 'jobs' }).add(5, { queue: 'q' });
    a.createCounter('other_total', { description: 'other' }).add(1, { queue: 'q' });
    b.createCounter('other_total', { description: 'other' }).add(1, { queue: 'r' });
    const text = await rt.metricsText();
    assert.equal(promtoolCheck(text).status, 0, text);
    const families = parseExposition(text);
    assert.deepEqual(
      families.get('jobs_total')!.samples.map((s) => [s.labels['otel_scope_name'], s.labels['otel_scope_version'], s.value]),
      [['lib-a', '1.0.0', 2], ['lib-b', '2.0.0', 5]],
    );
    assert.deepEqual(families.get('other_total')!.samples.map((s) => s.labels), [{ queue: 'q' }, { queue: 'r' }]);
    await rt.shutdown();
  });
});
