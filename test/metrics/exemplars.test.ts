import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/logging/logger.ts';
import { EndpointRecorder, UNBATCHED_CLOCK } from '../../src/metrics/endpoint-recorder.ts';
import { BucketExemplars } from '../../src/metrics/exemplars.ts';

describe('bucket exemplars', () => {
  it('keeps the last sampled measurement of each bucket, and nothing until one is offered', () => {
    const e = new BucketExemplars(3);
    assert.equal(e.snapshot(), undefined);
    e.offer(1, 0.5, 1000, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) });
    e.offer(1, 0.7, 2000, { traceId: 'c'.repeat(32), spanId: 'd'.repeat(16) });
    e.offer(2, 9, 3000, { traceId: 'e'.repeat(32), spanId: 'f'.repeat(16) });
    assert.deepEqual(e.snapshot(), [
      undefined,
      { bucket: 1, value: 0.7, timeMs: 2000, traceId: 'c'.repeat(32), spanId: 'd'.repeat(16) },
      { bucket: 2, value: 9, timeMs: 3000, traceId: 'e'.repeat(32), spanId: 'f'.repeat(16) },
    ]);
  });

  it('is offered by the recorder for a sampled request only, in the bucket the request was counted in', () => {
    const r = new EndpointRecorder({}, [1000, 2000], createLogger('warn', () => {}));
    r.requestEnded(r.requestStarted(1));
    assert.equal(r.durationExemplars.snapshot(), undefined);
    const before = Date.now();
    r.requestEnded(r.requestStarted(1), { traceId: '1'.repeat(32), spanId: '2'.repeat(16) });
    const snap = r.durationExemplars.snapshot()!;
    assert.deepEqual(Array.from(r.bucketCounts), [2, 0, 0]);
    assert.equal(snap[1], undefined);
    assert.equal(snap[2], undefined);
    assert.equal(snap[0]!.traceId, '1'.repeat(32));
    assert.equal(snap[0]!.spanId, '2'.repeat(16));
    // The value is the duration the histogram counted (the sum of the two, minus the first).
    assert.ok(snap[0]!.value >= 0 && snap[0]!.value <= r.durationSum);
    // Wall-clock time from the monotonic clock: within a second of Date.now() (the two may drift apart a little).
    assert.ok(Math.abs(snap[0]!.timeMs - before) < 1000, String(snap[0]!.timeMs - before));
  });

  it('is offered for the time to first response by the first data message of a sampled request only', () => {
    const r = new EndpointRecorder({}, [1000, 2000], createLogger('warn', () => {}));
    const trace = { traceId: '3'.repeat(32), spanId: '4'.repeat(16) };
    const plain = r.requestStarted(1);
    r.dataPublished(plain, true, UNBATCHED_CLOCK);
    assert.equal(r.firstResponseExemplars.snapshot(), undefined);
    const mark = r.requestStarted(1);
    const first = r.dataPublished(mark, true, UNBATCHED_CLOCK, trace);
    r.dataPublished(first, false, UNBATCHED_CLOCK, trace); // a later message's gap keeps no exemplar
    const snap = r.firstResponseExemplars.snapshot()!;
    assert.deepEqual(snap.map((e) => e?.traceId), ['3'.repeat(32), undefined, undefined]);
    assert.equal(snap[0]!.value, (first - mark) / 1000);
    assert.equal(r.durationExemplars.snapshot(), undefined);
  });
});
