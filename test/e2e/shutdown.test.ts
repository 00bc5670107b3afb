import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime, ErrorCode, ErrorType, RemoteError, DynamoError } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';

describe('graceful shutdown', () => {
  let nats: NatsServer;
  let env: Record<string, string>;
  before(async () => {
    nats = await startNatsServer();
    env = { NATS_SERVER: nats.url };
  });
  after(() => nats.stop());

  it('finishes every accepted request, then refuses new ones with a clean error', async () => {
    const server = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {} });
    const clientRt = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {} });
    const ep = server.namespace('ns').component('c').endpoint('slow');
    let started = 0;
    await ep.serve(async function* (req: number) {
      started++;
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 40));
        yield req * 10 + i;
      }
    });
    const client = await clientRt.namespace('ns').component('c').endpoint('slow').client();
    await client.waitForInstances();
    const pending = Array.from({ length: 20 }, (_, i) => client.generate<number>(i).collect());
    while (started < 20) await new Promise((r) => setTimeout(r, 5));
    assert.equal(ep.recorder.inflight, 20);
    await server.shutdown();
    const results = await Promise.all(pending);
    assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => [0, 1, 2, 3, 4].map((k) => i * 10 + k)));
    assert.equal(ep.recorder.inflight, 0);
    assert.equal(ep.recorder.requests, 20);
    await assert.rejects(client.generate(99).collect(), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.NoResponders);
    await client.close();
    await clientRt.shutdown();
  });

  it('aborts what outlives the grace period: the client gets shutting_down, counted as generate', async () => {
    const server = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {}, shutdownGraceMs: 200 });
    const clientRt = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {} });
    const ep = server.namespace('ns').component('c').endpoint('stuck');
    let aborted = 0;
    await ep.serve(async function* (_req: unknown, ctx) {
      ctx.signal.addEventListener('abort', () => aborted++);
      yield 'started';
      await new Promise(() => {});
    });
    const client = await clientRt.namespace('ns').component('c').endpoint('stuck').client();
    await client.waitForInstances();
    const stream = client.generate<string>('x');
    assert.deepEqual(await stream.next(), { value: 'started', done: false });
    const t0 = Date.now();
    await server.shutdown();
    assert.ok(Date.now() - t0 < 5000);
    await assert.rejects(stream.next(), (e: unknown) => e instanceof RemoteError && e.errorType === 'shutting_down');
    assert.equal(aborted, 1);
    assert.equal(ep.recorder.inflight, 0);
    assert.equal(ep.recorder.errorCount(ErrorType.Generate), 1);
    await client.close();
    await clientRt.shutdown();
  });
});
