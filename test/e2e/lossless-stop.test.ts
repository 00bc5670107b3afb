/**
 * Stopping an instance under load loses nothing: what NATS already routed to it is served, and
 * new requests go to the instances that remain. Stopping twice, or stopping an endpoint and then
 * the runtime, waits for the same stop.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime, ERROR_TYPES, type Endpoint } from '../../src/index.ts';
import { errorsOf, requestsOf, viewOf } from '../helpers/scraped.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { eventually } from '../helpers/tools.ts';
import { onNats } from '../helpers/runtime.ts';

describe('stopping under load', () => {
  let nats: NatsServer;

  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await nats.stop();
  });

  it('an instance stopped mid-load loses no request: every one is answered, Σ requests_total = requests sent', async () => {
    const [a, b, caller] = await Promise.all([0, 1, 2].map(() => DistributedRuntime.create(onNats(nats.url))));
    const serve = async (rt: DistributedRuntime): Promise<Endpoint> => {
      const ep = rt.namespace('ns').component('c').endpoint('echo');
      await ep.serve(async function* (req: number) {
        await new Promise((r) => setImmediate(r));
        yield req;
      });
      return ep;
    };
    const epA = await serve(a!);
    await serve(b!);
    const client = await caller!.namespace('ns').component('c').endpoint('echo').client({ timeoutMs: 10_000 });
    await client.waitForInstances({ count: 2 });

    const TOTAL = 3000;
    let next = 0;
    let stopped: Promise<void> | undefined;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < TOTAL) {
          const i = next++;
          if (i === 1000) stopped = epA.stopServing();
          try {
            const got = await client.generate<number>(i).collect();
            if (got.length !== 1 || got[0] !== i) failures.push(`${i}: ${JSON.stringify(got)}`);
          } catch (err) {
            failures.push(`${i}: ${String(err)}`);
          }
        }
      }),
    );
    await stopped;
    assert.deepEqual(failures, []);
    const servedA = await requestsOf(a!, 'echo');
    const servedB = await requestsOf(b!, 'echo');
    assert.equal(servedA + servedB, TOTAL);
    assert.deepEqual(await errorsOf(a!, 'echo'), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(await errorsOf(b!, 'echo'), [0, 0, 0, 0, 0, 0]);
    await client.close();
    await Promise.all([a!, b!, caller!].map((rt) => rt.shutdown()));
  });

  it('stopServing() twice, then shutdown(): one stop, live streams finish, no error counted', async () => {
    const [server, caller] = await Promise.all([0, 1].map(() => DistributedRuntime.create(onNats(nats.url))));
    const ep = server!.namespace('ns').component('c').endpoint('slow');
    await ep.serve(async function* () {
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 10));
        yield i;
      }
    });
    const client = await caller!.namespace('ns').component('c').endpoint('slow').client();
    await client.waitForInstances();
    const streams = Array.from({ length: 20 }, () => client.generate<number>(null).collect());
    await eventually(async () => ((await viewOf(server!, 'slow')).inflight === 20 ? true : undefined), 5000, 'all 20 streams running');
    const first = ep.stopServing();
    assert.equal(ep.stopServing(), first, 'the same promise to every caller');
    const down = server!.shutdown();
    const results = await Promise.all(streams);
    await Promise.all([first, down]);
    for (const r of results) assert.deepEqual(r, Array.from({ length: 20 }, (_, i) => i));
    // (the runtime is shut down: its metrics are read from the endpoint's last collection)
    const last = ep.recorder;
    assert.equal(last.inflight, 0);
    assert.deepEqual(ERROR_TYPES.map((t) => last.errorCount(t)), [0, 0, 0, 0, 0, 0]);
    await client.close();
    await caller!.shutdown();
  });
});
