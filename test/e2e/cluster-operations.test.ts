/**
 * Everyday fleet operations on a real 3-node nats-server cluster: six instances spread over the
 * nodes; fresh clients spread from their first request; a rolling restart of every instance
 * under continuous load loses nothing; an instance that joins gets traffic from a running client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime, type Endpoint } from '../../src/index.ts';
import { requestsOf } from '../helpers/scraped.ts';
import { startNatsCluster, type NatsCluster } from '../helpers/nats-cluster.ts';
import { eventually } from '../helpers/tools.ts';
import { onNats } from '../helpers/runtime.ts';

interface Instance {
  rt: DistributedRuntime;
  ep: Endpoint;
  node: number;
}

describe('fleet operations on a 3-node NATS cluster', { timeout: 60_000 }, () => {
  let cluster: NatsCluster;
  const instances: Instance[] = [];
  /** requests_total of instances already shut down, read just before. */
  let retiredRequests = 0;

  async function startInstance(node: number): Promise<Instance> {
    const rt = await DistributedRuntime.create(onNats(cluster.nodes[node]!.url));
    const ep = rt.namespace('ns').component('fleet').endpoint('work');
    await ep.serve(async (req: number) => req);
    const instance = { rt, ep, node };
    instances.push(instance);
    return instance;
  }

  async function retire(instance: Instance): Promise<void> {
    await instance.ep.stopServing();
    retiredRequests += await requestsOf(instance.rt, 'work');
    await instance.rt.shutdown();
    instances.splice(instances.indexOf(instance), 1);
  }

  before(async () => {
    cluster = await startNatsCluster(3);
    for (let i = 0; i < 6; i++) await startInstance(i % 3);
  });

  after(async () => {
    for (const i of [...instances]) await i.rt.shutdown();
    await cluster.stop();
  });

  it('24 fresh one-request clients spread over the instances from their first request', async () => {
    const served: string[] = [];
    for (let batch = 0; batch < 3; batch++) {
      await Promise.all(
        Array.from({ length: 8 }, async (_, k) => {
          const rt = await DistributedRuntime.create(onNats(cluster.nodes[(batch * 8 + k) % 3]!.url));
          try {
            const client = await rt.namespace('ns').component('fleet').endpoint('work').client();
            await client.waitForInstances({ count: 6 });
            const stream = client.generate<number>(k);
            assert.deepEqual(await stream.collect(), [k]);
            served.push(stream.instanceId!);
          } finally {
            await rt.shutdown();
          }
        }),
      );
    }
    const perInstance = new Map<string, number>();
    for (const id of served) perInstance.set(id, (perInstance.get(id) ?? 0) + 1);
    console.log(`24 fresh clients over 6 instances: ${JSON.stringify([...perInstance.values()].sort((a, b) => b - a))}`);
    assert.equal(served.length, 24);
    assert.ok(perInstance.size >= 4, `only ${perInstance.size} instances used`);
    assert.ok(Math.max(...perInstance.values()) <= 12, 'one instance took more than half');
  });

  it('a rolling restart under continuous load loses nothing; a joining instance gets traffic within 2 s', async () => {
    const callerRt = await DistributedRuntime.create(onNats(cluster.nodes[0]!.url));
    const client = await callerRt.namespace('ns').component('fleet').endpoint('work').client({ timeoutMs: 10_000 });
    await client.waitForInstances({ count: 6 });
    const before = retiredRequests + (await Promise.all(instances.map((i) => requestsOf(i.rt, 'work')))).reduce((a, b) => a + b, 0);

    let sent = 0;
    const failures: string[] = [];
    let running = true;
    const started = performance.now();
    const load = Promise.all(
      Array.from({ length: 32 }, async () => {
        while (running) {
          const i = sent++;
          try {
            const got = await client.generate<number>(i).collect();
            if (got.length !== 1 || got[0] !== i) failures.push(`${i}: ${JSON.stringify(got)}`);
          } catch (err) {
            failures.push(`${i}: ${String(err)}`);
          }
        }
      }),
    );

    let joinMs = NaN;
    try {
      // every instance, one at a time: stop it, start its replacement on the same node
      for (const old of [...instances]) {
        await retire(old);
        await startInstance(old.node);
      }
      // a seventh instance joins: the running client sends it requests soon
      const joiner = await startInstance(1);
      const joinedAt = performance.now();
      await eventually(async () => ((await requestsOf(joiner.rt, 'work')) > 0 ? true : undefined), 2000, 'traffic to the joining instance');
      joinMs = performance.now() - joinedAt;
    } finally {
      running = false;
      await load;
    }
    const seconds = (performance.now() - started) / 1000;
    const after = retiredRequests + (await Promise.all(instances.map((i) => requestsOf(i.rt, 'work')))).reduce((a, b) => a + b, 0);
    console.log(`rolling restart of 6 instances: ${sent} requests in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s), ${failures.length} failed; joiner served within ${Math.round(joinMs)} ms`);
    assert.deepEqual(failures, []);
    assert.equal(after - before, sent);
    await client.close();
    await callerRt.shutdown();
  });
});
