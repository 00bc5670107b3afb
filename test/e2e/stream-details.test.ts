/**
 * The smaller contracts of a response stream, on a real nats-server: late readers, sync
 * generators, concurrent next() calls, oversized requests, and how handler failures are logged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime, DynamoError, ErrorCode, type EndpointClient } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { captureLogs, type CapturedLogs } from '../helpers/runtime.ts';
import { eventually } from '../helpers/tools.ts';

const MAX_PAYLOAD = 16 * 1024;

describe('response streams: the details', () => {
  let nats: NatsServer;
  let server: DistributedRuntime;
  let callerRt: DistributedRuntime;
  let logs: CapturedLogs;
  let produced = 0;

  before(async () => {
    nats = await startNatsServer({ maxPayload: MAX_PAYLOAD });
    logs = captureLogs();
    server = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url, DYN_LOG: 'warn' }, handleSignals: false, logSink: logs.sink, streamStallTimeoutMs: 2000 });
    callerRt = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
    const c = server.namespace('ns').component('c');
    await c.endpoint('ten').serve(async function* () {
      for (let i = 0; i < 10; i++) {
        produced++;
        yield i;
      }
    });
    await c.endpoint('sync').serve(function* (req: { n: number }) {
      for (let i = 0; i < req.n; i++) yield `s${i}`;
      return 'done';
    });
    await c.endpoint('array').serve(() => [1, 2, 3]);
    await c.endpoint('failing').serve(async function* () {
      yield 'one';
      throw new Error('handler bug');
    });
  });

  after(async () => {
    await callerRt.shutdown();
    await server.shutdown();
    await nats.stop();
  });

  const client = async (endpoint: string, options = {}): Promise<EndpointClient> => {
    const cl = await callerRt.namespace('ns').component('c').endpoint(endpoint).client(options);
    await cl.waitForInstances();
    return cl;
  };

  it('a reader that starts late is not timed out: window 4, timeout 300 ms, reading after 500 ms gets all 10', async () => {
    produced = 0;
    const cl = await client('ten', { window: 4, timeoutMs: 300 });
    const stream = cl.generate<number>(null);
    await eventually(async () => (produced === 5 ? true : undefined), 5000, 'the server holding at its window'); // 4 sent, the 5th pulled and waiting
    await new Promise((r) => setTimeout(r, 500)); // the scenario itself: a reader busy elsewhere for longer than the timeout
    assert.deepEqual(await stream.collect(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await cl.close();
  });

  it('a reader that stays away longer than the stall timeout is kept alive by its client\'s heartbeat', async () => {
    produced = 0;
    const cl = await client('ten', { window: 2, timeoutMs: 300 });
    const stream = cl.generate<number>(null);
    await eventually(async () => (produced === 3 ? true : undefined), 5000, 'the server holding at its window');
    await new Promise((r) => setTimeout(r, 4500)); // over twice the server's 2 s stall timeout (the client beats every second)
    assert.deepEqual(await stream.collect(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await cl.close();
  });

  it('streams a sync generator like an async one; an array stays one response', async () => {
    const cl = await client('sync');
    const stream = cl.generate<string>({ n: 4 });
    assert.deepEqual(await stream.collect(), ['s0', 's1', 's2', 's3']);
    assert.equal(stream.final, 'done');
    const arrays = await client('array');
    assert.deepEqual(await arrays.generate<number[]>(null).collect(), [[1, 2, 3]]);
    await cl.close();
    await arrays.close();
  });

  it('serves concurrent next() calls in order', async () => {
    const cl = await client('sync');
    const stream = cl.generate<string>({ n: 3 });
    const results = await Promise.all([stream.next(), stream.next(), stream.next(), stream.next(), stream.next()]);
    assert.deepEqual(results, [
      { value: 's0', done: false },
      { value: 's1', done: false },
      { value: 's2', done: false },
      { value: undefined, done: true },
      { value: undefined, done: true },
    ]);
    await cl.close();
  });

  it('refuses a request larger than max_payload with its own code, before sending, and leaves no timer behind', async () => {
    const cl = await client('sync');
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    assert.throws(
      () => cl.generate('x'.repeat(MAX_PAYLOAD)),
      (err: unknown) => err instanceof DynamoError && err.code === ErrorCode.RequestTooLarge && /max_payload of 16384 bytes/.test(err.message),
    );
    assert.equal(timers(), before);
    assert.deepEqual(await cl.generate<string>({ n: 1 }).collect(), ['s0']);
    await cl.close();
  });

  it('logs a handler failure at warn with its stack, at most once a minute per endpoint', async () => {
    const cl = await client('failing');
    for (let k = 0; k < 5; k++) await assert.rejects(cl.generate(null).collect(), /handler bug/);
    const lines = logs.lines.filter((l) => l['msg'] === 'handler failed');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!['level'], 'warn');
    assert.match(String(lines[0]!['stack']), /^Error: handler bug\n\s+at /);
    await cl.close();
  });
});
