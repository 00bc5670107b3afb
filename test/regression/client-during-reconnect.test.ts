// Bug: creating a client (or serving) while the NATS connection was reconnecting failed with a raw
// `RequestError: connection disconnected` — the subscription's flush was rejected when the client
// reset its outbound buffer for the next reconnect attempt. Found by the NATS outage test.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistributedRuntime } from '../../src/index.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { eventually } from '../helpers/tools.ts';

describe('regression: client() and serve() while NATS is reconnecting', () => {
  it('both succeed and work once NATS is back', async () => {
    const nats = await startNatsServer();
    const opts = { env: { NATS_SERVER: nats.url }, handleSignals: false as const, logSink: () => {} };
    const server = await DistributedRuntime.create(opts);
    const clientRt = await DistributedRuntime.create(opts);
    try {
      await nats.kill();
      await new Promise((r) => setTimeout(r, 100));
      const serving = server.namespace('ns').component('c').endpoint('echo').serve((req: string) => req);
      const clientReady = clientRt.namespace('ns').component('c').endpoint('echo').client({ timeoutMs: 2000 });
      await new Promise((r) => setTimeout(r, 600)); // a few reconnect attempts fail meanwhile
      await nats.restart();
      await serving;
      const client = await clientReady;
      const reply = await eventually(async () => (await client.generate<string>('back').collect())[0], 15_000, 'a reply');
      assert.equal(reply, 'back');
      await client.close();
    } finally {
      await clientRt.shutdown();
      await server.shutdown();
      await nats.stop();
    }
  });
});
