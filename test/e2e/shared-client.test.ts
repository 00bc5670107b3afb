/**
 * One client per endpoint (and options) per runtime: `endpoint.client()` hands every caller the
 * same client, which closes when the last of them closes it. Option values are checked at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime, DynamoError, ErrorCode } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { onNats } from '../helpers/runtime.ts';

describe('shared clients', () => {
  let nats: NatsServer;
  let server: DistributedRuntime;
  let caller: DistributedRuntime;

  before(async () => {
    nats = await startNatsServer();
    [server, caller] = await Promise.all([DistributedRuntime.create(onNats(nats.url)), DistributedRuntime.create(onNats(nats.url))]);
    await server.namespace('ns').component('c').endpoint('echo').serve(async (x: unknown) => x);
  });
  after(async () => {
    await Promise.all([server.shutdown(), caller.shutdown()]);
    await nats.stop();
  });

  it('same options, same client — even when asked for at once; other options, another client', async () => {
    const ep = caller.namespace('ns').component('c').endpoint('echo');
    const [a, b, c] = await Promise.all([ep.client(), ep.client(), ep.client()]);
    assert.equal(a, b);
    assert.equal(b, c);
    const other = await ep.client({ router: 'random' });
    assert.notEqual(other, a);
    await a!.waitForInstances();
    assert.deepEqual(await a!.generate(1).collect(), [1]);
    assert.deepEqual(await other.generate(2).collect(), [2]);
    for (const client of [a!, b!, c!, other]) await client.close();
  });

  it('closes when the last holder closes it; a closed client refuses to send; asking again gives a fresh one', async () => {
    const ep = caller.namespace('ns').component('c').endpoint('echo');
    const first = await ep.client({ timeoutMs: 5000 });
    const second = await ep.client({ timeoutMs: 5000 });
    await first.close();
    await first.close(); // more closes than holds: nothing more happens
    assert.equal(second.isClosed, true, 'two closes by anyone release both holds');

    const x = await ep.client({ timeoutMs: 4000 });
    const y = await ep.client({ timeoutMs: 4000 });
    await x.close();
    assert.equal(y.isClosed, false);
    await y.waitForInstances();
    assert.deepEqual(await y.generate('still open').collect(), ['still open']);
    await y.close();
    assert.equal(y.isClosed, true);
    assert.throws(() => y.generate('nope'), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.ClientClosed);

    const fresh = await ep.client({ timeoutMs: 4000 });
    assert.notEqual(fresh, y);
    await fresh.waitForInstances();
    assert.deepEqual(await fresh.generate(3).collect(), [3]);
    await fresh.close();
  });

  it('refuses durations no timer can keep, before anything is sent', async () => {
    const ep = caller.namespace('ns').component('c').endpoint('echo');
    for (const bad of [0, -1, Number.NaN, 2 ** 31, Number.POSITIVE_INFINITY, '5' as unknown as number]) {
      await assert.rejects(ep.client({ timeoutMs: bad }), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidOption && /timeoutMs/.test(e.message), String(bad));
      await assert.rejects(ep.client({ discoveryWindowMs: bad }), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidOption && /discoveryWindowMs/.test(e.message), String(bad));
    }
    const client = await ep.client();
    assert.throws(() => client.generate(1, { timeoutMs: -5 }), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidOption);
    await client.close();
  });
});
