import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CANCEL_REASONS, DEFAULT_DURATION_BUCKETS, DEFAULT_INTER_RESPONSE_BUCKETS, DynamoError, ERROR_TYPES, EndpointMetric, ErrorCode, ErrorType } from '../../src/index.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { promtoolCheck } from '../helpers/tools.ts';
import { testRuntime } from '../helpers/runtime.ts';

describe('runtime exposition', () => {
  it('shows every automatic series of a serving endpoint, the six error types at 0, uptime and target_info', async () => {
    const rt = testRuntime({ serviceName: 'svc' });
    const ep = rt.namespace('example_namespace').component('example_component').endpoint('example_endpoint');
    assert.equal(parseExposition(await rt.metricsText()).has(EndpointMetric.requests.name), false, 'not serving yet: no series');
    ep.setServing(true);
    const r = ep.recorder;
    for (const [inBytes, outBytes] of [[366, 639], [366, 639], [366, 639]] as const) {
      const mark = r.requestStarted(inBytes);
      r.responsePublished(outBytes);
      r.requestEnded(mark);
    }
    r.error(ErrorType.Generate);
    r.requestStarted(10); // still in flight

    const text = await rt.metricsText();
    const f = parseExposition(text);
    const L = { dynamo_namespace: 'example_namespace', dynamo_component: 'example_component', dynamo_endpoint: 'example_endpoint' };
    const v = (family: string, labels: Record<string, string> = L, sample = family) => sampleValue(f, family, sample, labels);
    assert.equal(v('dynamo_component_requests_total'), 4);
    assert.equal(v('dynamo_component_request_bytes_total'), 1108);
    assert.equal(v('dynamo_component_response_bytes_total'), 1917);
    assert.equal(v('dynamo_component_inflight_requests'), 1);
    assert.deepEqual(
      ERROR_TYPES.map((t) => v('dynamo_component_errors_total', { ...L, error_type: t })),
      [0, 0, 0, 1, 0, 0],
    );
    const buckets = f.get('dynamo_component_request_duration_seconds')!.samples.filter((s) => s.name.endsWith('_bucket'));
    assert.deepEqual(buckets.map((s) => s.labels['le']), [...DEFAULT_DURATION_BUCKETS.map(String), '+Inf']);
    assert.equal(v('dynamo_component_request_duration_seconds', L, 'dynamo_component_request_duration_seconds_count'), 3);
    assert.equal(buckets.at(-1)!.value, 3);
    for (const [key, spec] of Object.entries(EndpointMetric)) {
      const fam = f.get(spec.name);
      assert.ok(fam, `missing ${key}`);
      assert.equal(fam.help, spec.help);
    }
    assert.deepEqual(
      Object.fromEntries(Object.values(EndpointMetric).map((s) => [s.name, f.get(s.name)!.type])),
      {
        dynamo_component_requests_total: 'counter',
        dynamo_component_request_bytes_total: 'counter',
        dynamo_component_response_bytes_total: 'counter',
        dynamo_component_errors_total: 'counter',
        dynamo_component_request_duration_seconds: 'histogram',
        dynamo_component_inflight_requests: 'gauge',
        dynamo_component_concurrency_limit: 'gauge',
        dynamo_component_rejected_requests_total: 'counter',
        dynamo_component_time_to_first_response_seconds: 'histogram',
        dynamo_component_inter_response_seconds: 'histogram',
        dynamo_component_responses_total: 'counter',
        dynamo_component_cancellation_total: 'counter',
      },
    );
    assert.deepEqual(
      CANCEL_REASONS.map((reason) => v('dynamo_component_cancellation_total', { ...L, reason })),
      [0, 0, 0],
    );
    const gaps = f.get('dynamo_component_inter_response_seconds')!.samples.filter((s) => s.name.endsWith('_bucket'));
    assert.deepEqual(gaps.map((s) => s.labels['le']), [...DEFAULT_INTER_RESPONSE_BUCKETS.map(String), '+Inf']);
    const firsts = f.get('dynamo_component_time_to_first_response_seconds')!.samples.filter((s) => s.name.endsWith('_bucket'));
    assert.deepEqual(firsts.map((s) => s.labels['le']), [...DEFAULT_DURATION_BUCKETS.map(String), '+Inf']);
    const uptime = f.get('uptime_seconds')!;
    assert.equal(uptime.help, 'Total uptime of the DistributedRuntime in seconds');
    assert.deepEqual(uptime.samples.map((s) => s.labels), [{ dynamo_namespace: 'system_status_server' }]);
    const target = f.get('target_info')!.samples[0]!.labels;
    assert.equal(target['service_name'], 'svc');
    assert.equal(target['service_instance_id'], rt.instanceId);
    assert.equal(target['telemetry_sdk_language'], 'nodejs');
    assert.ok(!text.includes('otel_scope_'));
    assert.equal(promtoolCheck(text).status, 0, promtoolCheck(text).output);
    await rt.shutdown();
  });

  it('stays valid for 50 endpoints over 5 components plus custom metrics (promtool check metrics)', async () => {
    const rt = testRuntime();
    for (let c = 0; c < 5; c++) {
      const comp = rt.namespace(c % 2 === 0 ? 'ns_even' : 'ns_odd').component(`comp${c}`);
      comp.createGauge({ name: 'replicas', description: 'replicas of the component' }).record(c);
      for (let e = 0; e < 10; e++) {
        const ep = comp.endpoint(`ep${e}`, { labels: { model: `m"${e}\\` } });
        ep.setServing(true);
        const mark = ep.recorder.requestStarted(c * 100 + e);
        ep.recorder.requestEnded(mark);
        ep.createCounter({ name: 'bytes_processed', description: 'Example of a custom metric. Total number of data bytes processed by system handler' }).add(e);
        ep.createHistogram({ name: 'tokens', description: 'tokens', labelNames: ['phase'], buckets: [1, 10] }).record(e, { phase: 'decode' });
      }
    }
    const text = await rt.metricsText();
    const check = promtoolCheck(text);
    assert.equal(check.status, 0, check.output);
    const f = parseExposition(text);
    assert.equal(f.get('dynamo_component_requests_total')!.samples.length, 50);
    assert.equal(f.get('dynamo_component_errors_total')!.samples.length, 300);
    assert.equal(f.get('dynamo_component_bytes_processed_total')!.samples.length, 50);
    assert.equal(f.get('dynamo_component_replicas')!.samples.length, 5);
    assert.equal(
      sampleValue(f, 'dynamo_component_request_bytes_total', 'dynamo_component_request_bytes_total', { dynamo_component: 'comp3', dynamo_endpoint: 'ep7' }),
      307,
    );
    assert.equal(
      sampleValue(f, 'dynamo_component_requests_total', 'dynamo_component_requests_total', { dynamo_component: 'comp2', dynamo_endpoint: 'ep4', model: 'm"4\\' }),
      1,
    );
    await rt.shutdown();
  });

  it('adds scope labels when asked', async () => {
    const rt = testRuntime({ withScopeLabels: true });
    rt.namespace('n').component('c').endpoint('e').setServing(true);
    const f = parseExposition(await rt.metricsText());
    assert.deepEqual(f.get('dynamo_component_requests_total')!.samples[0]!.labels, {
      dynamo_component: 'c',
      dynamo_endpoint: 'e',
      dynamo_namespace: 'n',
      otel_scope_name: 'dynamo/n/c/e',
      otel_scope_version: '0.1.0',
    });
  });

  it('takes duration buckets per endpoint, then from options or DYN_METRICS_DURATION_BUCKETS', async () => {
    const rt = testRuntime({ env: { DYN_METRICS_DURATION_BUCKETS: '0.5, 2' } });
    const comp = rt.namespace('n').component('c');
    comp.endpoint('env').setServing(true);
    comp.endpoint('own', { durationBuckets: [0.001, 0.002, 0.003] }).setServing(true);
    const samples = parseExposition(await rt.metricsText()).get('dynamo_component_request_duration_seconds')!.samples;
    const les = (ep: string) => samples.filter((s) => s.labels['dynamo_endpoint'] === ep && s.labels['le'] !== undefined).map((s) => s.labels['le']);
    assert.deepEqual(les('env'), ['0.5', '2', '+Inf']);
    assert.deepEqual(les('own'), ['0.001', '0.002', '0.003', '+Inf']);
    const opt = testRuntime({ env: { DYN_METRICS_DURATION_BUCKETS: '0.5, 2' }, durationBuckets: [7] });
    opt.namespace('n').component('c').endpoint('e').setServing(true);
    const les2 = parseExposition(await opt.metricsText()).get('dynamo_component_request_duration_seconds')!.samples.flatMap((s) => s.labels['le'] ?? []);
    assert.deepEqual(les2, ['7', '+Inf']);
  });

  it('refuses an endpoint asked for again with other options, and bad endpoint options', () => {
    const comp = testRuntime().namespace('n').component('c');
    comp.endpoint('e', { labels: { model: 'a' } });
    assert.equal(comp.endpoint('e', { labels: { model: 'a' } }), comp.endpoint('e'));
    assert.throws(() => comp.endpoint('e', { labels: { model: 'b' } }), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.EndpointConflict);
    assert.throws(() => comp.endpoint('x', { durationBuckets: [2, 1] }), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidBuckets);
    assert.throws(() => comp.endpoint('y', { labels: { model: 3 as unknown as string } }), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidLabel);
  });

  it('keeps two runtimes in one process apart', async () => {
    const a = testRuntime();
    const b = testRuntime();
    a.namespace('n').component('c').endpoint('e').setServing(true);
    b.namespace('n').component('c').endpoint('e').setServing(true);
    a.namespace('n').component('c').endpoint('e').recorder.requestStarted(5);
    const fa = parseExposition(await a.metricsText());
    const fb = parseExposition(await b.metricsText());
    assert.equal(fa.get('dynamo_component_request_bytes_total')!.samples[0]!.value, 5);
    assert.equal(fb.get('dynamo_component_request_bytes_total')!.samples[0]!.value, 0);
    assert.notEqual(a.instanceId, b.instanceId);
  });

  it('refuses use after shutdown', async () => {
    const rt = testRuntime();
    await rt.shutdown();
    assert.throws(() => rt.namespace('n'), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.RuntimeClosed);
  });
});
