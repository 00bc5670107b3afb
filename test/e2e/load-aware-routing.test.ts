/**
 * The `least_loaded` router: instances report their load on every `end`/`error` message
 * (`Dynamo-Load`), and a caller's runtime adds its own requests in flight. A busy instance — busy
 * with another caller's requests, which this caller cannot see by itself — gets no more than its
 * share; once its report goes stale it is tried again, so a recovered instance is not shunned.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { onNats } from '../helpers/runtime.ts';
import { requestsOf, viewOf } from '../helpers/scraped.ts';
import { waitFor } from '../helpers/wait.ts';

describe('load-aware routing (least_loaded)', () => {
  let nats: NatsServer;

  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await nats.stop();
  });

  it("routes by the load instances report plus the caller's own: a burst fills the idle instance up to the busy one's load, then splits evenly", async () => {
    const [a, b, holder, caller] = await Promise.all([0, 1, 2, 3].map(() => DistributedRuntime.create(onNats(nats.url))));
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    for (const rt of [a!, b!]) {
      await rt.namespace('ns').component('c').endpoint('work').serve(async (req: { hold?: boolean }) => {
        if (req.hold === true) await gate;
        return 'ok';
      });
    }
    const ids = { a: a!.instanceId, b: b!.instanceId };

    // Another caller keeps 6 requests running on A; this caller has none there.
    const holds = await holder!.namespace('ns').component('c').endpoint('work').client();
    const held = Array.from({ length: 6 }, () => holds.generate({ hold: true }, { instanceId: ids.a }).collect());
    await waitFor(async () => (await viewOf(a!, 'work')).inflight === 6, { what: 'six requests held on A' });

    const client = await caller!.namespace('ns').component('c').endpoint('work').client({ router: 'least_loaded' });
    await client.waitForInstances({ count: 2 });
    // Until A has answered this caller once, it knows nothing of A's load (so may pick it).
    let servedBy: string | undefined;
    await waitFor(
      async () => {
        const stream = client.generate({});
        await stream.collect();
        servedBy = stream.instanceId;
        return servedBy === ids.a;
      },
      { what: 'a request of this caller served by A', intervalMs: 0 },
    );
    // Right after A's answer (it reported 6 others in flight), a burst of 20 at once: the first 6
    // go to B (load 0…5 < 6); from then on the two tie after every pair — 13 and 13 in the end,
    // so 7 more on A and 13 on B, exactly.
    const before = { a: await requestsOf(a!, 'work'), b: await requestsOf(b!, 'work') };
    const burst = Array.from({ length: 20 }, () => client.generate({}));
    await Promise.all(burst.map((s) => s.collect()));
    const placed = burst.map((s) => (s.instanceId === ids.a ? 'A' : s.instanceId === ids.b ? 'B' : '?'));
    assert.deepEqual(placed.slice(0, 6), ['B', 'B', 'B', 'B', 'B', 'B'], 'the idle instance first, up to the busy one\'s load');
    assert.deepEqual([placed.filter((p) => p === 'A').length, placed.filter((p) => p === 'B').length], [7, 13]);
    assert.deepEqual([(await requestsOf(a!, 'work')) - before.a, (await requestsOf(b!, 'work')) - before.b], [7, 13], 'the servers counted the same');

    // A recovers: its stale report stops counting and this caller sends to it again by itself.
    release();
    await Promise.all(held);
    await waitFor(
      async () => {
        const stream = client.generate({});
        await stream.collect();
        return stream.instanceId === ids.a;
      },
      { what: 'A served again after its load went', intervalMs: 50 },
    );
    await Promise.all([client.close(), holds.close()]);
    await Promise.all([a!, b!, holder!, caller!].map((rt) => rt.shutdown()));
  });
});
