import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DynamoError, ErrorCode } from '../../src/index.ts';
import { parseExposition } from '../helpers/exposition.ts';
import { captureLogs, testRuntime } from '../helpers/runtime.ts';
import { promtoolCheck } from '../helpers/tools.ts';

describe('cardinality guard for custom metrics', () => {
  it('caps 1,000,000 distinct label values at the limit plus one overflow series, warns once, keeps memory bounded', async () => {
    const logs = captureLogs();
    const rt = testRuntime({ logSink: logs.sink, cardinalityLimit: 1000 });
    const ep = rt.namespace('ns').component('c').endpoint('e');
    const hits = ep.createCounter({ name: 'hits', description: 'hits per user', labelNames: ['user'] });
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1_000_000; i++) hits.add(1, { user: `u${i}` });
    for (let i = 0; i < 1000; i++) hits.add(1, { user: `u${i}` }); // known label sets keep their own series
    gc?.();
    const grownMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    const text = await rt.metricsText();
    const fam = parseExposition(text).get('dynamo_component_hits_total')!;
    const overflow = fam.samples.filter((s) => s.labels['otel_metric_overflow'] === 'true');
    const regular = fam.samples.filter((s) => s.labels['otel_metric_overflow'] === undefined);
    assert.equal(regular.length, 1000);
    assert.ok(regular.every((s) => s.value === 2 && /^u\d+$/.test(s.labels['user']!) && Number(s.labels['user']!.slice(1)) < 1000));
    assert.deepEqual(overflow.map((s) => [s.labels['user'], s.value]), [[undefined, 999_000]]);
    assert.equal(fam.samples.reduce((n, s) => n + s.value, 0), 1_001_000);
    const warnings = logs.lines.filter((l) => l['msg'] === 'cardinality limit reached: further label sets are counted in one overflow series');
    assert.deepEqual(warnings.map((w) => [w['metric'], w['limit']]), [['dynamo_component_hits_total', 1000]]);
    assert.ok(grownMb < 50, `heap grew ${grownMb.toFixed(1)} MB`);
    assert.equal(promtoolCheck(text).status, 0);
    await rt.shutdown();
  });

  it('takes a per-metric limit and refuses a bad one', async () => {
    const rt = testRuntime();
    const ep = rt.namespace('ns').component('c').endpoint('e');
    const g = ep.createGauge({ name: 'temp', description: 'by sensor', labelNames: ['sensor'], cardinalityLimit: 3 });
    for (let i = 0; i < 10; i++) g.record(i, { sensor: `s${i}` });
    const samples = parseExposition(await rt.metricsText()).get('dynamo_component_temp')!.samples;
    assert.deepEqual(samples.map((s) => s.labels['sensor'] ?? s.labels['otel_metric_overflow']), ['s0', 's1', 's2', 'true']);
    assert.throws(() => ep.createCounter({ name: 'x', description: 'x', labelNames: ['a'], cardinalityLimit: 0 }), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidOption);
    assert.throws(() => testRuntime({ cardinalityLimit: -1 }), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidOption);
  });

  it('lets a limit above the SDK default (2000) through the readers', async () => {
    const rt = testRuntime({ cardinalityLimit: 5000 });
    const c = rt.namespace('ns').component('c').endpoint('e').createCounter({ name: 'n', description: 'n', labelNames: ['k'] });
    for (let i = 0; i < 4000; i++) c.add(1, { k: String(i) });
    const samples = parseExposition(await rt.metricsText()).get('dynamo_component_n_total')!.samples;
    assert.equal(samples.length, 4000);
    assert.ok(samples.every((s) => s.labels['otel_metric_overflow'] === undefined));
  });
});
