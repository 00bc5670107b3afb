// Bug: a per-metric `cardinalityLimit` above the SDK default (2000) was capped at 2000: the
// readers only took the runtime-wide limit, and the OTLP reader none at all.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExposition } from '../helpers/exposition.ts';
import { testRuntime } from '../helpers/runtime.ts';

describe('regression: per-metric cardinality limits above 2000', () => {
  it('keeps 3,000 label sets plus the overflow for a metric that asks for 3,000', async () => {
    const rt = testRuntime();
    const ep = rt.namespace('ns').component('c').endpoint('e');
    const wide = ep.createCounter({ name: 'wide', description: 'wide', labelNames: ['k'], cardinalityLimit: 3000 });
    const hist = ep.createHistogram({ name: 'wide_hist', description: 'wide', labelNames: ['k'], cardinalityLimit: 2500, buckets: [1] });
    for (let i = 0; i < 3100; i++) {
      wide.add(1, { k: String(i) });
      hist.record(2, { k: String(i) });
    }
    const families = parseExposition(await rt.metricsText());
    const samples = families.get('dynamo_component_wide_total')!.samples;
    assert.equal(samples.filter((s) => s.labels['otel_metric_overflow'] === undefined).length, 3000);
    assert.deepEqual(samples.filter((s) => s.labels['otel_metric_overflow'] === 'true').map((s) => s.value), [100]);
    const counts = families.get('dynamo_component_wide_hist')!.samples.filter((s) => s.name.endsWith('_count'));
    assert.equal(counts.length, 2501);
    assert.deepEqual(counts.filter((s) => s.labels['otel_metric_overflow'] === 'true').map((s) => s.value), [600]);
    await rt.shutdown();
  });
});
