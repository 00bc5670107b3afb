/**
 * Regression: a request nats.js refused to publish (over max_payload) left its stream's timeout
 * timer running: the process stayed alive for `timeoutMs`, and the timer later "cancelled" a
 * request that was never sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime, ErrorCode } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';

describe('regression: a request that could not be sent', () => {
  let nats: NatsServer;
  let rt: DistributedRuntime;

  before(async () => {
    nats = await startNatsServer({ maxPayload: 4096 });
    rt = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
  });
  after(async () => {
    await rt.shutdown();
    await nats.stop();
  });

  it('leaves no timer and sends no cancel', async () => {
    const client = await rt.namespace('ns').component('c').endpoint('e').client({ timeoutMs: 60_000 });
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    for (let k = 0; k < 3; k++) assert.throws(() => client.generate('x'.repeat(8192)), { code: ErrorCode.RequestTooLarge });
    assert.equal(timers(), before);
    await client.close();
  });
});
