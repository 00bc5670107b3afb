/**
 * A stream's data messages go to NATS in batches, one per turn of the event loop
 * (response-publisher.ts): order, counts and bytes stay exact.
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
    const counts = [1, 31, 32, 33, 300];
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
});
