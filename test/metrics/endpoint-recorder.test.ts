import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EndpointRecorder } from '../../src/metrics/endpoint-recorder.ts';
import { ERROR_TYPES, ErrorType } from '../../src/metrics/names.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { captureLogs } from '../helpers/runtime.ts';

const attrs = { dynamo_namespace: 'n', dynamo_component: 'c', dynamo_endpoint: 'e' };

describe('EndpointRecorder', () => {
  it('counts requests, bytes and in-flight exactly', () => {
    const r = new EndpointRecorder(attrs, [0.1, 1], createLogger('warn', () => {}));
    const a = r.requestStarted(100);
    const b = r.requestStarted(23);
    assert.equal(r.inflight, 2);
    r.responsePublished(40);
    r.responsePublished(2);
    r.requestEnded(a);
    r.requestEnded(b);
    assert.deepEqual([r.requests, r.requestBytes, r.responseBytes, r.inflight, r.durationCount], [2, 123, 42, 0, 2]);
  });

  it('puts a value equal to a boundary in that bucket (le is inclusive), larger ones in +Inf', () => {
    const r = new EndpointRecorder(attrs, [0.1, 1], createLogger('warn', () => {}));
    for (const v of [0, 0.1, 0.10000001, 1, 1.5, 1000]) r.observeDuration(v);
    assert.deepEqual(Array.from(r.bucketCounts), [2, 2, 2]);
    assert.equal(r.durationSum, 0 + 0.1 + 0.10000001 + 1 + 1.5 + 1000);
    assert.equal(r.durationMin, 0);
    assert.equal(r.durationMax, 1000);
  });

  it('counts NaN or negative durations in the first bucket as 0', () => {
    const r = new EndpointRecorder(attrs, [0.1], createLogger('warn', () => {}));
    r.observeDuration(NaN);
    r.observeDuration(-5);
    assert.deepEqual(Array.from(r.bucketCounts), [2, 0]);
    assert.equal(r.durationSum, 0);
  });

  it('never lets in-flight go negative, and reports the misuse once', () => {
    const logs = captureLogs();
    const r = new EndpointRecorder(attrs, [1], createLogger('warn', logs.sink));
    r.requestEnded(0);
    r.requestEnded(0);
    assert.equal(r.inflight, 0);
    assert.equal(r.durationCount, 0);
    assert.equal(logs.lines.length, 1);
    assert.equal(logs.lines[0]!['level'], 'warn');
  });

  it('counts each error type separately and drops an unknown type with one warning', () => {
    const logs = captureLogs();
    const r = new EndpointRecorder(attrs, [1], createLogger('warn', logs.sink));
    r.error(ErrorType.Generate);
    r.error(ErrorType.Generate);
    r.error(ErrorType.PublishFinal);
    r.error('bogus' as ErrorType);
    r.error('bogus' as ErrorType);
    assert.deepEqual(ERROR_TYPES.map((t) => r.errorCount(t)), [0, 0, 0, 2, 0, 1]);
    assert.equal(logs.lines.length, 1);
  });

  it('binds frozen attribute sets once, one per error type', () => {
    const r = new EndpointRecorder(attrs, [1], createLogger('warn', () => {}));
    assert.ok(Object.isFrozen(r.attributes));
    assert.deepEqual(r.errorAttributes.map((a) => a['error_type']), [...ERROR_TYPES]);
    assert.ok(r.errorAttributes.every((a) => Object.isFrozen(a) && a['dynamo_endpoint'] === 'e'));
  });
});
