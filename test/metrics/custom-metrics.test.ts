import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DynamoError, ErrorCode } from '../../src/index.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { captureLogs, testRuntime } from '../helpers/runtime.ts';

const isCode = (code: string, pattern?: RegExp) => (err: unknown) =>
  err instanceof DynamoError && err.code === code && (pattern === undefined || pattern.test(err.message));

describe('custom metrics', () => {
  it('prefixes dynamo_component_, appends _total to counters and labels series with the hierarchy', async () => {
    const rt = testRuntime();
    const ns = rt.namespace('ns');
    const ep = ns.component('comp').endpoint('ep');
    const counter = ep.createCounter({ name: 'bytes_processed', description: 'Example of a custom metric. Total number of data bytes processed by system handler' });
    assert.equal(counter.name, 'dynamo_component_bytes_processed_total');
    counter.add(40);
    counter.add();
    counter.add(1);
    const gauge = ns.createGauge({ name: 'dynamo_component_queue_depth', description: 'queue depth', labelNames: ['queue'] });
    gauge.record(5, { queue: 'a' });
    gauge.record(7, { queue: 'a' });
    const hist = ep.component.createHistogram({ name: 'tokens', description: 'tokens per request', buckets: [10, 100] });
    hist.record(5);
    hist.record(50);
    hist.record(500);
    const updown = ep.createUpDownCounter({ name: 'slots', description: 'slots in use' });
    updown.add(3);
    updown.add(-1);
    let observed = 0;
    ep.createObservableGauge({ name: 'kv_usage', description: 'kv cache usage', labelNames: ['tier'] }, (r) => {
      observed++;
      r.observe(0.25, { tier: 'gpu' });
    });
    ep.createObservableCounter({ name: 'ticks', description: 'ticks' }, (r) => r.observe(9));

    const f = parseExposition(await rt.metricsText());
    const epLabels = { dynamo_namespace: 'ns', dynamo_component: 'comp', dynamo_endpoint: 'ep' };
    assert.equal(sampleValue(f, 'dynamo_component_bytes_processed_total', 'dynamo_component_bytes_processed_total', epLabels), 42);
    assert.equal(f.get('dynamo_component_bytes_processed_total')!.type, 'counter');
    assert.deepEqual(f.get('dynamo_component_queue_depth')!.samples, [
      { name: 'dynamo_component_queue_depth', labels: { dynamo_namespace: 'ns', queue: 'a' }, value: 7 },
    ]);
    const histSamples = f.get('dynamo_component_tokens')!.samples.map((s) => `${s.name}{le=${s.labels['le'] ?? ''}} ${s.value}`);
    assert.deepEqual(histSamples, [
      'dynamo_component_tokens_bucket{le=10} 1',
      'dynamo_component_tokens_bucket{le=100} 2',
      'dynamo_component_tokens_bucket{le=+Inf} 3',
      'dynamo_component_tokens_sum{le=} 555',
      'dynamo_component_tokens_count{le=} 3',
    ]);
    assert.deepEqual(f.get('dynamo_component_tokens')!.samples[0]!.labels, { dynamo_namespace: 'ns', dynamo_component: 'comp', le: '10' });
    assert.equal(sampleValue(f, 'dynamo_component_slots', 'dynamo_component_slots', epLabels), 2);
    assert.equal(f.get('dynamo_component_slots')!.type, 'gauge');
    assert.equal(sampleValue(f, 'dynamo_component_kv_usage', 'dynamo_component_kv_usage', { ...epLabels, tier: 'gpu' }), 0.25);
    assert.equal(sampleValue(f, 'dynamo_component_ticks_total', 'dynamo_component_ticks_total', epLabels), 9);
    assert.equal(observed, 1);
    await rt.shutdown();
  });

  it('returns the same instrument when created twice, and one series per endpoint for the same name', async () => {
    const rt = testRuntime();
    const comp = rt.namespace('ns').component('comp');
    const opts = { name: 'hits', description: 'hits', labelNames: ['kind'] };
    const a1 = comp.endpoint('a').createCounter(opts);
    assert.equal(comp.endpoint('a').createCounter({ ...opts, labelNames: ['kind'] }), a1);
    const b = comp.endpoint('b').createCounter(opts);
    assert.notEqual(b, a1);
    a1.add(1, { kind: 'x' });
    b.add(2, { kind: 'x' });
    const fam = parseExposition(await rt.metricsText()).get('dynamo_component_hits_total')!;
    assert.deepEqual(fam.samples.map((s) => [s.labels['dynamo_endpoint'], s.value]), [['a', 1], ['b', 2]]);
  });

  it('refuses conflicting re-registration with a clear error', () => {
    const ep = testRuntime().namespace('ns').component('c').endpoint('e');
    ep.createCounter({ name: 'x', description: 'x', labelNames: ['a'] });
    assert.throws(() => ep.createGauge({ name: 'x_total', description: 'x', labelNames: ['a'] }), isCode(ErrorCode.MetricConflict, /already exists as a counter, not a gauge/));
    assert.throws(() => ep.createCounter({ name: 'x', description: 'x', labelNames: ['b'] }), isCode(ErrorCode.MetricConflict, /labels \[a\], not \[b\]/));
    assert.throws(() => ep.createCounter({ name: 'x', description: 'x', labelNames: ['a'], unit: 'By' }), isCode(ErrorCode.MetricConflict, /unit/));
    assert.throws(() => ep.createCounter({ name: 'x', description: 'other', labelNames: ['a'] }), isCode(ErrorCode.MetricConflict, /description/));
    assert.throws(() => ep.createCounter({ name: 'requests', description: 'mine' }), isCode(ErrorCode.MetricConflict, /automatic endpoint metrics/));
    assert.throws(() => ep.createGauge({ name: 'dynamo_component_inflight_requests', description: 'mine' }), isCode(ErrorCode.MetricConflict));
  });

  it('refuses reserved, malformed and duplicate label names', () => {
    const ep = testRuntime().namespace('ns').component('c').endpoint('e');
    for (const label of ['dynamo_namespace', 'dynamo_component', 'dynamo_endpoint', 'error_type', 'le']) {
      assert.throws(() => ep.createCounter({ name: `m_${label}`, description: 'd', labelNames: [label] }), isCode(ErrorCode.InvalidLabel, /reserved/));
    }
    assert.throws(() => ep.createCounter({ name: 'm1', description: 'd', labelNames: ['1abc'] }), isCode(ErrorCode.InvalidLabel));
    assert.throws(() => ep.createCounter({ name: 'm2', description: 'd', labelNames: ['__x'] }), isCode(ErrorCode.InvalidLabel));
    assert.throws(() => ep.createCounter({ name: 'm3', description: 'd', labelNames: ['a-b'] }), isCode(ErrorCode.InvalidLabel));
    assert.throws(() => ep.createCounter({ name: 'm4', description: 'd', labelNames: ['a', 'a'] }), isCode(ErrorCode.InvalidLabel, /twice/));
    assert.throws(() => rtEndpointWithLabels({ le: 'x' }), isCode(ErrorCode.InvalidLabel, /reserved/));
  });

  it('refuses bad metric names, missing help and bad buckets', () => {
    const ep = testRuntime().namespace('ns').component('c').endpoint('e');
    assert.throws(() => ep.createCounter({ name: 'a.b', description: 'd' }), isCode(ErrorCode.InvalidMetricName, /character "\."/));
    assert.throws(() => ep.createCounter({ name: '', description: 'd' }), isCode(ErrorCode.InvalidMetricName));
    assert.throws(() => ep.createCounter({ name: 'ok', description: '' }), isCode(ErrorCode.InvalidOption, /description/));
    assert.throws(() => ep.createHistogram({ name: 'h', description: 'd', buckets: [1, 1] }), isCode(ErrorCode.InvalidBuckets));
    assert.throws(() => ep.createHistogram({ name: 'h2', description: 'd', buckets: [1, Infinity] }), isCode(ErrorCode.InvalidBuckets));
    assert.throws(() => ep.createObservableGauge({ name: 'g', description: 'd' }, undefined as never), isCode(ErrorCode.InvalidOption, /callback/));
  });

  it('drops bad measurements without throwing, reporting each kind once', async () => {
    const logs = captureLogs();
    const rt = testRuntime({ logSink: logs.sink });
    const ep = rt.namespace('ns').component('c').endpoint('e');
    const c = ep.createCounter({ name: 'c', description: 'd', labelNames: ['k'] });
    const g = ep.createGauge({ name: 'g', description: 'd' });
    c.add(-1);
    c.add(-1);
    c.add(NaN);
    c.add(1, { nope: 'x' } as never);
    c.add(1, { nope: 'x' } as never);
    g.record('7' as unknown as number);
    c.add(2, { k: 'ok' });
    const f = parseExposition(await rt.metricsText());
    assert.deepEqual(f.get('dynamo_component_c_total')!.samples.map((s) => s.value), [2]);
    assert.equal(f.has('dynamo_component_g'), false);
    // one line per metric and reason: counter negative, counter NaN, gauge not a number
    assert.equal(logs.lines.filter((l) => l['msg'] === 'measurement dropped').length, 3);
    assert.equal(logs.lines.filter((l) => String(l['msg']).startsWith('measurement dropped: label')).length, 1);
    assert.equal(logs.lines.filter((l) => l['metric'] === 'dynamo_component_g').length, 1);
  });
});

function rtEndpointWithLabels(labels: Record<string, string>) {
  return testRuntime().namespace('ns').component('c').endpoint('e', { labels });
}
