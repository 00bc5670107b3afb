/**
 * A stream's data messages go to NATS in batches, one per turn of the event loop
 * (turn-outbox.ts), and its loop takes a turn after 128 responses or 1 MiB of them
 * (request-runner.ts): order, counts and bytes stay exact across both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { onNats } from '../helpers/runtime.ts';

describe('stream batching', () => {
  let nats: NatsServer;
  let caller: DistributedRuntime;

  before(async () => {
    nats = await startNatsServer();
    caller = await DistributedRuntime.create({ ...onNats(nats.url), runtimeMetrics: false });
  });
  after(async () => {
    await caller.shutdown();
    await nats.stop();
  });

  it('a handler that yields faster than the network: every response in order, then the end; metrics exact', async () => {
    const server = await DistributedRuntime.create({ ...onNats(nats.url), runtimeMetrics: false });
    const ep = server.namespace('ns').component('batch').endpoint('burst');
    await ep.serve(async function* (n: number) {
      for (let i = 0; i < n; i++) yield i;
      return 'done';
    });
    const client = await caller.namespace('ns').component('batch').endpoint('burst').client();
    await client.waitForInstances();
    const counts = [1, 31, 32, 33, 127, 128, 129, 300];
    for (const n of counts) {
      const stream = client.generate<number>(n);
      assert.deepEqual(await stream.collect(), Array.from({ length: n }, (_, i) => i));
      assert.equal(stream.final, 'done');
    }
    const total = counts.reduce((a, b) => a + b, 0);
    assert.equal(ep.recorder.responses, total);
    const dataBytes = counts.reduce((sum, n) => sum + Array.from({ length: n }, (_, i) => String(i).length).reduce((a, b) => a + b, 0), 0);
    const endBytes = counts.reduce((sum, n) => sum + JSON.stringify({ count: n, final: 'done' }).length, 0);
    assert.equal(ep.recorder.responseBytes, dataBytes + endBytes);
    await client.close();
    await server.shutdown();
  });

  it('large responses, over the bytes a stream publishes in one turn: every one whole and in order; bytes exact', async () => {
    const server = await DistributedRuntime.create({ ...onNats(nats.url), runtimeMetrics: false });
    const ep = server.namespace('ns').component('batch').endpoint('large');
    const piece = (i: number): string => String.fromCharCode(97 + (i % 26)).repeat(100_000);
    await ep.serve(function* (n: number) {
      for (let i = 0; i < n; i++) yield piece(i);
    });
    const client = await caller.namespace('ns').component('batch').endpoint('large').client();
    await client.waitForInstances();
    const stream = client.generate<string>(25);
    assert.deepEqual(await stream.collect(), Array.from({ length: 25 }, (_, i) => piece(i)));
    assert.equal(ep.recorder.responses, 25);
    assert.equal(ep.recorder.responseBytes, 25 * 100_002 + JSON.stringify({ count: 25 }).length);
    await client.close();
    await server.shutdown();
  });
});
