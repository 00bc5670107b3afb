// Bug: label values went into the attribute set as they came; the SDK keys attribute sets with
// JSON, where NaN, Infinity and -Infinity are all `null` — three label values, one series. And
// `{a: 1}` next to `{a: '1'}` gave two OTLP series but two identical /metrics lines.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExposition } from '../helpers/exposition.ts';
import { captureLogs, testRuntime } from '../helpers/runtime.ts';
import { promtoolCheck } from '../helpers/tools.ts';

describe('regression: non-string label values', () => {
  it('keeps NaN, Infinity and -Infinity apart, maps 1 and "1" to one series, drops what is not a label value', async () => {
    const logs = captureLogs();
    const rt = testRuntime({ logSink: logs.sink });
    const ep = rt.namespace('ns').component('c').endpoint('e');
    const c = ep.createCounter({ name: 'c', description: 'c', labelNames: ['v'] });
    c.add(1, { v: NaN });
    c.add(2, { v: Infinity });
    c.add(4, { v: -Infinity });
    c.add(8, { v: 1 });
    c.add(16, { v: '1' });
    c.add(32, { v: true });
    c.add(64, { v: 'true' });
    c.add(128, { v: { toString: () => 'x' } as unknown as string });
    const text = await rt.metricsText();
    assert.equal(promtoolCheck(text).status, 0);
    assert.deepEqual(
      parseExposition(text).get('dynamo_component_c_total')!.samples.map((s) => [s.labels['v'], s.value]),
      [['NaN', 1], ['Infinity', 2], ['-Infinity', 4], ['1', 24], ['true', 96]],
    );
    const { resourceMetrics } = await rt.prometheusReader.collect();
    const points = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'dynamo_component_c_total')!.dataPoints;
    assert.deepEqual(points.map((p) => [p.attributes['v'], p.value]), [['NaN', 1], ['Infinity', 2], ['-Infinity', 4], ['1', 24], ['true', 96]]);
    assert.deepEqual(
      logs.lines.filter((l) => l['msg'] === 'measurement dropped: a label value must be a string, number or boolean').map((l) => [l['metric'], l['label'], l['type']]),
      [['dynamo_component_c_total', 'v', 'object']],
    );
    await rt.shutdown();
  });
});
