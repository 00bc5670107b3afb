/**
 * Regression: stop() unsubscribed its request subscriptions, and nats.js drops messages that
 * arrive for a subscription it no longer has — so requests NATS had already routed to a stopping
 * instance vanished and their callers waited out their timeouts. A drain delivers them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { DistributedRuntime } from '../../src/index.ts';
import { requestsOf } from '../helpers/scraped.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { rawRequest } from '../helpers/raw-request.ts';
import { eventually } from '../helpers/tools.ts';
import { onNats } from '../helpers/runtime.ts';

describe('regression: stopping dropped requests already routed to the instance', () => {
  let nats: NatsServer;

  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await nats.stop();
  });

  it('a stop begun while a burst is arriving serves every request of the burst NATS already routed here', async () => {
    const [server] = await Promise.all([DistributedRuntime.create(onNats(nats.url))]);
    const ep = server!.namespace('ns').component('c').endpoint('burst');
    let stopping: Promise<void> | undefined;
    await ep.serve(async (req: number) => {
      // the first request of the burst starts the stop, with the rest already on their way
      stopping ??= ep.stopServing();
      return req;
    });
    const raw = await connect({ servers: nats.url });
    try {
      // every request gets exactly one outcome: served (its one value and the end: `last`), or —
      // sent after the instance left the queue group — NATS's no-responders status; never nothing
      const outcome = new Map<string, string>();
      raw.subscribe('_INBOX.burst.*', {
        callback: (_e, msg) => {
          const h = msg.headers;
          const what = h?.code === 503 ? 'no-responders' : h?.get('Dynamo-Kind') === 'last' ? 'end' : undefined;
          if (what !== undefined) outcome.set(msg.subject, outcome.has(msg.subject) ? 'twice' : what);
        },
      });
      await raw.flush();
      const BURST = 300;
      for (let i = 0; i < BURST; i++) {
        const r = rawRequest(ep.subject, String(i), { inbox: '_INBOX.burst' });
        raw.publish(ep.subject, r.data, { reply: r.reply, headers: r.headers });
      }
      await raw.flush();
      await eventually(async () => (stopping !== undefined ? true : undefined), 5000, 'the stop begun');
      await stopping;
      await eventually(async () => (outcome.size === BURST ? true : undefined), 5000, `an outcome for each of the ${BURST} requests`);
      const served = [...outcome.values()].filter((o) => o === 'end').length;
      assert.equal([...outcome.values()].filter((o) => o !== 'end' && o !== 'no-responders').length, 0);
      assert.equal(await requestsOf(server!, 'burst'), served);
    } finally {
      await raw.close();
      await server!.shutdown();
    }
  });
});
