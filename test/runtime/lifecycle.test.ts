import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistributedRuntime, DynamoError, ErrorCode } from '../../src/index.ts';
import { startNatsServer } from '../helpers/nats-server.ts';

describe('runtime lifecycle', () => {
  it('two runtimes in one process shut down independently, each releasing only its own signal handling', async () => {
    const nats = await startNatsServer();
    const env = { NATS_SERVER: nats.url };
    const listeners = () => [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const base = listeners();
    const a = await DistributedRuntime.create({ env, logSink: () => {} });
    const b = await DistributedRuntime.create({ env, logSink: () => {} });
    const caller = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {} });
    try {
      // One listener per signal, whatever the number of runtimes.
      assert.deepEqual(listeners(), base.map((n) => n + 1));
      await a.namespace('ns').component('a').endpoint('echo').serve((req: string) => `a:${req}`);
      await b.namespace('ns').component('b').endpoint('echo').serve((req: string) => `b:${req}`);
      const toA = await caller.namespace('ns').component('a').endpoint('echo').client({ timeoutMs: 5000 });
      const toB = await caller.namespace('ns').component('b').endpoint('echo').client({ timeoutMs: 5000 });
      await toA.waitForInstances();
      await toB.waitForInstances();

      await a.shutdown();
      assert.deepEqual(await toB.generate<string>('still here').collect(), ['b:still here']);
      assert.deepEqual(listeners(), base.map((n) => n + 1));
      await assert.rejects(toA.generate('x').collect(), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.NoResponders);
      assert.throws(() => a.namespace('ns'), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.RuntimeClosed);

      await b.shutdown();
      assert.deepEqual(listeners(), base);
      await toA.close();
      await toB.close();
    } finally {
      await Promise.all([a.shutdown(), b.shutdown(), caller.shutdown()]);
      await nats.stop();
    }
  });

  it('one listener per signal even when the package is loaded twice (its ES module and CommonJS builds)', async () => {
    type Signals = typeof import('../../src/runtime/shutdown-signals.ts');
    const first: Signals = await import('../../src/runtime/shutdown-signals.ts');
    // A query string makes a second, separate instance of the module, as a second copy would be.
    const secondCopy = '../../src/runtime/shutdown-signals.ts?second-copy';
    const second = (await import(secondCopy)) as Signals;
    assert.notEqual(second, first);
    const base = process.listenerCount('SIGTERM');
    const a = { shutdownOnSignal: async () => {} };
    const b = { shutdownOnSignal: async () => {} };
    first.handleShutdownSignals(a);
    second.handleShutdownSignals(b);
    assert.equal(process.listenerCount('SIGTERM'), base + 1);
    first.releaseShutdownSignals(a);
    assert.equal(process.listenerCount('SIGTERM'), base + 1);
    second.releaseShutdownSignals(b);
    assert.equal(process.listenerCount('SIGTERM'), base);
  });

  it('start() gives every caller the same promise; after a failure it can be retried', async () => {
    const nats = await startNatsServer();
    try {
      const runtime = new DistributedRuntime({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
      const first = runtime.start();
      assert.equal(runtime.start(), first);
      await first;
      assert.equal(runtime.health().nats, 'connected');
      await runtime.shutdown();

      await nats.kill();
      const retried = new DistributedRuntime({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
      await assert.rejects(retried.start(), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.NatsConnect);
      await nats.restart();
      await retried.start();
      assert.equal(retried.health().nats, 'connected');
      await retried.shutdown();
    } finally {
      await nats.stop();
    }
  });
});
