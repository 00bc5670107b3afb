// Bug: creating a client (or serving) while the NATS connection was reconnecting failed with a raw
// `RequestError: connection disconnected` — the subscription's flush was rejected when the client
// reset its outbound buffer for the next reconnect attempt. Found by the NATS outage test.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistributedRuntime, NatsState } from '../../src/index.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { captureLogs } from '../helpers/runtime.ts';
import { waitFor } from '../helpers/wait.ts';

describe('regression: client() and serve() while NATS is reconnecting', () => {
  it('both succeed and work once NATS is back', async () => {
    const nats = await startNatsServer();
    // At debug level each runtime logs every reconnect attempt: the test waits on those, not on the clock.
    const serverLogs = captureLogs();
    const clientLogs = captureLogs();
    const opts = { env: { NATS_SERVER: nats.url }, handleSignals: false as const, logLevel: 'debug' as const };
    const server = await DistributedRuntime.create({ ...opts, logSink: serverLogs.sink });
    const clientRt = await DistributedRuntime.create({ ...opts, logSink: clientLogs.sink });
    const attempts = (logs: typeof serverLogs) => logs.lines.filter((l) => l['msg'] === 'NATS status' && l['type'] === 'reconnecting').length;
    try {
      await nats.kill();
      await waitFor(() => [server.health().nats, clientRt.health().nats], { what: 'both runtimes to see NATS gone', until: (states) => states.every((s) => s === NatsState.Disconnected) });
      const before = [attempts(serverLogs), attempts(clientLogs)] as const;
      const serving = server.namespace('ns').component('c').endpoint('echo').serve((req: string) => req);
      const clientReady = clientRt.namespace('ns').component('c').endpoint('echo').client({ timeoutMs: 2000 });
      // The bug struck when a reconnect attempt failed while the subscription's flush was pending.
      await waitFor(() => [attempts(serverLogs) - before[0], attempts(clientLogs) - before[1]], {
        what: 'two failed reconnect attempts in each runtime while serve() and client() wait',
        until: (n) => n.every((k) => k >= 2),
      });
      await nats.restart();
      await serving;
      const client = await clientReady;
      const reply = await waitFor(async () => (await client.generate<string>('back').collect())[0], { what: 'a reply', timeoutMs: 15_000 });
      assert.equal(reply, 'back');
      await client.close();
    } finally {
      await clientRt.shutdown();
      await server.shutdown();
      await nats.stop();
    }
  });
});
