import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CANCEL_REASONS, CLIENT_ERROR_TYPES, DEFAULT_INTER_RESPONSE_BUCKETS, DynamoError, ErrorCode, RemoteError } from '../../src/index.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { ClientRecorder } from '../../src/metrics/client-recorder.ts';
import { EndpointRecorder, UNBATCHED_CLOCK, type PublishClock } from '../../src/metrics/endpoint-recorder.ts';
import { CancelReason } from '../../src/metrics/names.ts';
import { parseExposition } from '../helpers/exposition.ts';
import { captureLogs, testRuntime } from '../helpers/runtime.ts';

const attrs = { dynamo_namespace: 'n', dynamo_component: 'c', dynamo_endpoint: 'e' };

describe('streaming metrics on the recorders', () => {
  it('one mark per data message: the first is a time to first response from a reading of its own, the others gaps by their batch time', () => {
    const r = new EndpointRecorder(attrs, [1], createLogger('warn', () => {}), { interResponse: [0.001, 1] });
    const start = r.requestStarted(3);
    // A publisher's clock whose readings the test sets: `now()` takes `reading`, and the batch shares it.
    let reading = start + 500;
    let batch = -1;
    const clock: PublishClock = { now: () => (batch = reading), batchTime: () => batch };
    let last = r.dataPublished(start, true, clock);
    assert.equal(last, start + 500);
    // Two more in the same batch: they leave with the first, 0 apart.
    for (let i = 0; i < 2; i++) last = r.dataPublished(last, false, clock);
    // The next batch, 2 s later: one gap of 2 s, then 0 again.
    reading = start + 2500;
    clock.now();
    for (let i = 0; i < 2; i++) last = r.dataPublished(last, false, clock);
    r.requestEnded(start);
    assert.deepEqual([r.responses, r.firstResponse.count, r.interResponse.count, r.duration.count], [5, 1, 4, 1]);
    assert.equal(r.firstResponse.sum, (start + 500 - start) / 1000);
    assert.deepEqual(Array.from(r.interResponse.counts), [3, 0, 1]);
    assert.equal(r.interResponse.sum, (start + 2500 - (start + 500)) / 1000);
    assert.deepEqual([r.interResponse.min, r.interResponse.max], [0, (start + 2500 - (start + 500)) / 1000]);
    assert.deepEqual(Array.from(r.interResponse.bounds), [0.001, 1]);
    assert.deepEqual(Array.from(new EndpointRecorder(attrs, [1], createLogger('warn', () => {})).interResponse.bounds), [...DEFAULT_INTER_RESPONSE_BUCKETS]);
  });

  it('outside the request plane, every message reads the clock (UNBATCHED_CLOCK)', () => {
    const r = new EndpointRecorder(attrs, [1], createLogger('warn', () => {}), { interResponse: [1] });
    const start = r.requestStarted(3);
    const first = r.dataPublished(start, true, UNBATCHED_CLOCK);
    const second = r.dataPublished(first, false, UNBATCHED_CLOCK);
    assert.ok(first >= start && second >= first);
    assert.equal(r.interResponse.sum, (second - first) / 1000);
  });

  it('counts cancellations by reason, and drops an unknown reason with one warning', () => {
    const logs = captureLogs();
    const r = new EndpointRecorder(attrs, [1], createLogger('warn', logs.sink));
    r.cancelled(CancelReason.Stall);
    r.cancelled(CancelReason.Shutdown);
    r.cancelled(CancelReason.Shutdown);
    r.cancelled('bogus' as CancelReason);
    r.cancelled('bogus' as CancelReason);
    assert.deepEqual(CANCEL_REASONS.map((reason) => r.cancellationCount(reason)), [0, 1, 2]);
    assert.deepEqual(Array.from(r.errors), [0, 0, 0, 0, 0, 0]);
    assert.equal(logs.lines.length, 1);
  });

  it('the client recorder counts each failure under the error_type of its code, and nothing else', () => {
    const logs = captureLogs();
    const r = new ClientRecorder(attrs, [1], createLogger('warn', logs.sink));
    const codes = [ErrorCode.NoResponders, ErrorCode.NoInstances, ErrorCode.Timeout, ErrorCode.StreamCutShort, ErrorCode.Cancelled, ErrorCode.Overloaded, ErrorCode.RequestTooLarge];
    for (const code of codes) r.requestEnded(r.requestStarted(), new DynamoError(code, 'x'));
    r.requestEnded(r.requestStarted(), new RemoteError('generate', 'boom'));
    r.requestEnded(r.requestStarted(), undefined);
    r.requestEnded(r.requestStarted(), new Error('not ours'));
    assert.deepEqual(CLIENT_ERROR_TYPES.map((t) => r.errorCount(t)), [1, 1, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual([r.requests, r.inflight, r.duration.count], [10, 0, 10]);
    assert.equal(logs.lines.length, 1, 'the foreign failure is reported once');
    r.requestEnded(0, undefined);
    assert.equal(r.inflight, 0, 'never negative');
  });

  it('refuses `reason` as an endpoint constant label: the cancellation series carry the constant labels', () => {
    const rt = testRuntime();
    assert.throws(() => rt.namespace('n').component('c').endpoint('e', { labels: { reason: 'x' } }), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidLabel);
  });

  it('inter-response buckets: the endpoint option, else the runtime option, else DYN_METRICS_INTER_RESPONSE_BUCKETS', async () => {
    const les = async (rt: ReturnType<typeof testRuntime>, endpoint: string) =>
      parseExposition(await rt.metricsText())
        .get('dynamo_component_inter_response_seconds')!
        .samples.filter((s) => s.name.endsWith('_bucket') && s.labels['dynamo_endpoint'] === endpoint)
        .map((s) => s.labels['le']);
    const fromEnv = testRuntime({ env: { DYN_METRICS_INTER_RESPONSE_BUCKETS: '0.002,0.2' } });
    fromEnv.namespace('n').component('c').endpoint('env').setServing(true);
    fromEnv.namespace('n').component('c').endpoint('own', { interResponseBuckets: [0.5] }).setServing(true);
    assert.deepEqual(await les(fromEnv, 'env'), ['0.002', '0.2', '+Inf']);
    assert.deepEqual(await les(fromEnv, 'own'), ['0.5', '+Inf']);
    const fromOption = testRuntime({ env: { DYN_METRICS_INTER_RESPONSE_BUCKETS: '0.002,0.2' }, interResponseBuckets: [3] });
    fromOption.namespace('n').component('c').endpoint('opt').setServing(true);
    assert.deepEqual(await les(fromOption, 'opt'), ['3', '+Inf']);
    assert.throws(() => fromOption.namespace('n').component('c').endpoint('bad', { interResponseBuckets: [2, 1] }), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidBuckets);
    await fromEnv.shutdown();
    await fromOption.shutdown();
  });
});
