/**
 * The client's stream, as pure logic: messages are built in memory (no NATS), the hooks record
 * what the stream asks the client to do. The same rules are driven over a real nats-server by
 * test/reliability/wire-fuzz.test.ts and hostile-bus.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headers, type Msg } from '@nats-io/transport-node';
import { DynamoError, ErrorCode, RemoteError } from '../../src/errors.ts';
import { ResponseStream, type StreamHooks } from '../../src/transport/response-stream.ts';

const enc = new TextEncoder();

function message(fields: Record<string, string>, body: string): Msg {
  const h = headers();
  for (const [k, v] of Object.entries(fields)) h.set(k, v);
  return { subject: '_INBOX.x.t', sid: 1, data: enc.encode(body), headers: h } as unknown as Msg;
}
// A JSON response carries no content type: its absence means JSON.
const data = (value: unknown, instance = 'A') => message({ 'Dynamo-Protocol': '2', 'Dynamo-Instance': instance, 'Dynamo-Kind': 'data' }, JSON.stringify(value));
const end = (count: number, instance = 'A') => message({ 'Dynamo-Protocol': '2', 'Dynamo-Instance': instance, 'Dynamo-Kind': 'end' }, JSON.stringify({ count }));
const error = (type: string, instance = 'A', protocol = '2') =>
  message({ 'Dynamo-Protocol': protocol, ...(instance === '' ? {} : { 'Dynamo-Instance': instance }), 'Dynamo-Kind': 'error', 'Dynamo-Error-Type': type }, JSON.stringify({ type, message: `it was ${type}` }));

interface Recorded extends StreamHooks {
  done: (cancel: boolean) => void;
  calls: string[];
}

function hooks(notTaken = false): Recorded {
  const calls: string[] = [];
  return {
    calls,
    done: (cancel) => void calls.push(`done cancel=${cancel}`),
    ack: (instance, consumed) => void calls.push(`ack ${instance} ${consumed}`),
    load: (instance, load) => void calls.push(`load ${instance} ${load}`),
    noResponders: () => (calls.push('noResponders'), false),
    notTaken: (by, overloaded) => (calls.push(`notTaken ${by} overloaded=${overloaded}`), notTaken),
  };
}

describe('ResponseStream (pure logic)', () => {
  it('serves concurrent next() calls in order, then ends', async () => {
    const h = hooks();
    const s = new ResponseStream<number>('r1', 60_000, 8, undefined, h);
    const pending = [s.next(), s.next(), s.next()];
    assert.equal(s.onMessage(data(1)), true);
    assert.equal(s.onMessage(data(2)), true);
    assert.equal(s.onMessage(end(2)), true);
    assert.deepEqual(await Promise.all(pending), [
      { value: 1, done: false },
      { value: 2, done: false },
      { value: undefined, done: true },
    ]);
    assert.deepEqual(h.calls, ['done cancel=false']);
  });

  it('reads a body as its content type says: none or application/json is JSON, application/octet-stream raw bytes', async () => {
    const s = new ResponseStream<unknown>('r0', 60_000, 8, undefined, hooks());
    const typed = (contentType: string, body: string) => message({ 'Dynamo-Protocol': '2', 'Dynamo-Instance': 'A', 'Dynamo-Kind': 'data', 'Dynamo-Content-Type': contentType }, body);
    assert.equal(s.onMessage(data({ a: 1 })), true);
    assert.equal(s.onMessage(typed('application/json', '[1,"é"]')), true);
    assert.equal(s.onMessage(typed('application/octet-stream', '[1]')), true);
    assert.equal(s.onMessage(end(3)), true);
    assert.deepEqual(await s.collect(), [{ a: 1 }, [1, 'é'], enc.encode('[1]')]);
  });

  it('takes one instance per stream: the one it was sent to, else the first that answers', async () => {
    const s = new ResponseStream<number>('r2', 60_000, 8, undefined, hooks());
    s.expected = 'A';
    assert.equal(s.onMessage(data(9, 'B')), false, 'another instance');
    assert.equal(s.onMessage(data(1, 'A')), true);
    assert.equal(s.onMessage(end(1, 'B')), false);
    assert.equal(s.onMessage(end(1, 'A')), true);
    assert.deepEqual(await s.collect(), [1]);
    assert.equal(s.onMessage(data(2, 'A')), false, 'after the end');
  });

  it('drops what is not a response of this protocol from its instance', () => {
    const s = new ResponseStream<number>('r3', 60_000, 8, undefined, hooks());
    assert.equal(s.onMessage(data(1)), true);
    const bad: Msg[] = [
      message({ 'Dynamo-Protocol': '2', 'Dynamo-Kind': 'data' }, '1'), // no instance
      message({ 'Dynamo-Protocol': '3', 'Dynamo-Instance': 'A', 'Dynamo-Kind': 'data' }, '1'),
      message({ 'Dynamo-Protocol': '2', 'Dynamo-Instance': 'A', 'Dynamo-Kind': 'nope' }, '1'),
      message({ 'Dynamo-Protocol': '2', 'Dynamo-Instance': 'A', 'Dynamo-Kind': 'data' }, '{'),
      message({ 'Dynamo-Protocol': '2', 'Dynamo-Instance': 'A', 'Dynamo-Kind': 'end' }, '{"count":-1}'),
      message({ 'Dynamo-Protocol': '2', 'Dynamo-Instance': 'A b', 'Dynamo-Kind': 'data' }, '1'),
      error('generate', ''), // an unproven refusal names no instance
      error('invalid_message', 'A', '1'), // another protocol, after an instance answered
      { subject: 'x', sid: 1, data: new Uint8Array(), headers: undefined } as unknown as Msg,
    ];
    for (const m of bad) assert.equal(s.onMessage(m), false);
    s.discard(); // no timer left behind
  });

  it('a protocol-1 refusal before any answer fails at once with its text', async () => {
    const s = new ResponseStream<number>('r4', 60_000, 8, undefined, hooks());
    assert.equal(s.onMessage(error('invalid_message', '', '1')), true);
    await assert.rejects(s.next(), (e: unknown) => e instanceof RemoteError && e.errorType === 'invalid_message' && /protocol 1/.test(e.message));
  });

  it('overloaded or unavailable before any data: asks the client to re-send; else fails with its own code', async () => {
    const retried = hooks(true);
    const s = new ResponseStream<number>('r5', 60_000, 8, undefined, retried);
    s.expected = 'A';
    assert.equal(s.onMessage(error('overloaded', 'A')), true);
    s.expected = 'B';
    assert.equal(s.onMessage(data(1, 'B')), true, 'the other instance serves it');
    assert.deepEqual(retried.calls, ['notTaken A overloaded=true']);
    s.discard();

    const none = hooks(false);
    const t = new ResponseStream<number>('r6', 60_000, 8, undefined, none);
    assert.equal(t.onMessage(error('overloaded', 'A')), true);
    await assert.rejects(t.next(), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.Overloaded);
    const u = new ResponseStream<number>('r7', 60_000, 8, undefined, hooks(false));
    assert.equal(u.onMessage(error('unavailable', 'A')), true);
    await assert.rejects(u.next(), (e: unknown) => e instanceof RemoteError && e.errorType === 'unavailable');
  });

  it('an end that does not match what arrived fails the stream and cancels it', async () => {
    const h = hooks();
    const s = new ResponseStream<number>('r8', 60_000, 8, undefined, h);
    s.onMessage(data(1));
    s.onMessage(end(5));
    await s.next();
    await assert.rejects(s.next(), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.StreamCutShort);
    assert.deepEqual(h.calls, ['done cancel=true']);
  });

  it('acknowledges every half window, and heartbeats while its window is full and unread', () => {
    const h = hooks();
    const s = new ResponseStream<number>('r9', 60_000, 4, undefined, h);
    for (let i = 0; i < 4; i++) s.onMessage(data(i));
    s.tick();
    assert.deepEqual(h.calls, ['ack A 0'], 'window full, nothing read: a heartbeat');
    void s.next();
    void s.next();
    assert.deepEqual(h.calls, ['ack A 0', 'ack A 2'], 'half a window read');
    s.tick();
    assert.equal(h.calls.length, 2, 'credit again, nobody waiting: nothing to say');
    void s.return();
  });

  it('times out only while the server may send', async () => {
    const h = hooks();
    const s = new ResponseStream<number>('r10', 40, 2, undefined, h);
    s.onMessage(data(1));
    s.onMessage(data(2)); // window full: waiting on the reader, not the server
    await new Promise((r) => setTimeout(r, 120));
    assert.deepEqual(h.calls, [], 'not timed out');
    await s.next();
    await s.next(); // acknowledged: the server may send again, and does not
    await assert.rejects(s.next(), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.Timeout);
    assert.deepEqual(h.calls, ['ack A 1', 'ack A 2', 'done cancel=true']);
  });

  it('hands the serving instance\'s load report (end and error) to the router before the stream settles; malformed reports are ignored', async () => {
    const withLoad = (kind: 'end' | 'error', load: string | string[], instance = 'A') => {
      const h = headers();
      h.set('Dynamo-Protocol', '2');
      h.set('Dynamo-Instance', instance);
      h.set('Dynamo-Kind', kind);
      for (const v of Array.isArray(load) ? load : [load]) h.append('Dynamo-Load', v);
      if (kind === 'error') h.set('Dynamo-Error-Type', 'generate');
      const body = kind === 'end' ? { count: 0 } : { type: 'generate', message: 'x' };
      return { subject: '_INBOX.x.t', sid: 1, data: enc.encode(JSON.stringify(body)), headers: h } as unknown as Msg;
    };
    const h1 = hooks();
    const s1 = new ResponseStream('r', 60_000, 8, undefined, h1);
    assert.equal(s1.onMessage(withLoad('end', '7')), true);
    assert.deepEqual(h1.calls, ['load A 7', 'done cancel=false']);

    const h2 = hooks();
    const s2 = new ResponseStream('r', 60_000, 8, undefined, h2);
    assert.equal(s2.onMessage(withLoad('error', '0')), true);
    assert.deepEqual(h2.calls, ['load A 0', 'done cancel=false']);
    await assert.rejects(s2.collect());

    for (const bad of ['-1', '1e3', '12345678', '+3', '0x3', '', 'x', ['1', '2']]) {
      const h = hooks();
      const s = new ResponseStream('r', 60_000, 8, undefined, h);
      assert.equal(s.onMessage(withLoad('end', bad)), true, JSON.stringify(bad));
      assert.deepEqual(h.calls, ['done cancel=false'], `${JSON.stringify(bad)} is no report`);
    }

    // Another instance's message is dropped before its report is read.
    const h3 = hooks();
    const s3 = new ResponseStream('r', 60_000, 8, undefined, h3);
    s3.expected = 'A';
    assert.equal(s3.onMessage(withLoad('end', '5', 'B')), false);
    assert.deepEqual(h3.calls, []);
    s3.discard();
  });
});
