// Bug: a handler whose async generator yields without ever awaiting anything real
// (`for (;;) yield i`) kept the stream loop on the microtask queue forever: no I/O ran, so the
// client's cancel never arrived, the process stalled and responses piled up in the NATS client's
// buffer. Found by the handler-faults test. Fixed by flow control (at most a window of unacked
// responses) and a macrotask turn every few responses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistributedRuntime } from '../../src/index.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { parseExposition } from '../helpers/exposition.ts';
import { endpointView } from '../helpers/scrape.ts';
import { waitFor } from '../helpers/wait.ts';

describe('regression: a synchronously-yielding endless handler', () => {
  it('does not starve the event loop: the break reaches it, other requests are served', { timeout: 15_000 }, async () => {
    const nats = await startNatsServer();
    const opts = { env: { NATS_SERVER: nats.url }, handleSignals: false as const, logSink: () => {} };
    const server = await DistributedRuntime.create(opts);
    try {
      const comp = server.namespace('ns').component('c');
      await comp.endpoint('endless').serve(async function* () {
        for (let i = 0; ; i++) yield i;
      });
      await comp.endpoint('echo').serve((x: string) => x);
      const endless = await comp.endpoint('endless').client();
      const echo = await comp.endpoint('echo').client();
      await endless.waitForInstances();
      const seen: number[] = [];
      for await (const v of endless.generate<number>(null)) {
        seen.push(v);
        if (seen.length === 1000) break;
      }
      assert.deepEqual(seen, Array.from({ length: 1000 }, (_, i) => i));
      assert.deepEqual(await echo.generate('still here').collect(), ['still here']);
      const endlessMetrics = async () => endpointView(parseExposition(await server.metricsText()), { dynamo_endpoint: 'endless' });
      const ended = await waitFor(endlessMetrics, { what: 'the endless request ended', until: (v) => v.inflight === 0 });
      assert.equal(ended.requests, 1);
      assert.equal(ended.errorTotal, 0, 'a reader breaking out is not an endpoint error');
      await endless.close();
      await echo.close();
    } finally {
      await server.shutdown();
      await nats.stop();
    }
  });
});
