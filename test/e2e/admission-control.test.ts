/**
 * Admission control: an endpoint with `maxConcurrency` serves that many requests at once and
 * refuses the excess at once with `overloaded` — the caller's own error code, or a retry on
 * another instance when there is one. Nothing refused ever reaches the handler.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime, DynamoError, ErrorCode, type Endpoint } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { errorsOf } from '../helpers/scraped.ts';
import { eventually } from '../helpers/tools.ts';
import { onNats } from '../helpers/runtime.ts';

describe('admission control', () => {
  let nats: NatsServer;

  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await nats.stop();
  });

  /** An endpoint whose handler holds every request until `release()`, counting how many run at once. */
  async function gated(rt: DistributedRuntime, maxConcurrency: number): Promise<{ ep: Endpoint; running: () => number; peak: () => number; release: () => void }> {
    let running = 0;
    let peak = 0;
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    const ep = rt.namespace('ns').component('c').endpoint('gated');
    await ep.serve(
      async (req: number) => {
        running++;
        peak = Math.max(peak, running);
        await gate;
        running--;
        return req;
      },
      { maxConcurrency },
    );
    return { ep, running: () => running, peak: () => peak, release: () => open() };
  }

  it('maxConcurrency 4, 50 concurrent callers, one instance: 4 served, exactly the other 46 refused with DYN_ERR_OVERLOADED', async () => {
    const [server, caller] = await Promise.all([DistributedRuntime.create(onNats(nats.url)), DistributedRuntime.create(onNats(nats.url))]);
    const g = await gated(server, 4);
    const client = await caller.namespace('ns').component('c').endpoint('gated').client();
    await client.waitForInstances();
    const calls = Array.from({ length: 50 }, (_, i) => client.generate<number>(i).collect().then((r) => ({ ok: r }), (e: unknown) => ({ err: e })));
    await eventually(async () => (g.running() === 4 ? true : undefined), 5000, '4 requests running');
    // the 46 refusals arrive while the 4 are held
    const settled: Array<{ ok?: number[]; err?: unknown }> = [];
    for (const c of calls) void c.then((r) => settled.push(r));
    await eventually(async () => (settled.length === 46 ? true : undefined), 5000, '46 refusals');
    assert.ok(settled.every((r) => r.err instanceof DynamoError && r.err.code === ErrorCode.Overloaded));
    g.release();
    const results = await Promise.all(calls);
    assert.equal(results.filter((r) => 'ok' in r).length, 4);
    assert.equal(g.peak(), 4);
    // /metrics: the limit, the 46 refusals the callers saw, 4 requests served, no error
    const f = parseExposition(await server.metricsText());
    const v = (name: string) => sampleValue(f, name, name, { dynamo_endpoint: 'gated' });
    assert.deepEqual(
      [v('dynamo_component_concurrency_limit'), v('dynamo_component_rejected_requests_total'), v('dynamo_component_requests_total'), v('dynamo_component_inflight_requests')],
      [4, 46, 4, 0],
    );
    assert.deepEqual(await errorsOf(server, 'gated'), [0, 0, 0, 0, 0, 0], 'a refusal is not an error of the endpoint');
    await client.close();
    await Promise.all([server.shutdown(), caller.shutdown()]);
  });

  it('two instances at their limit: a refused request is retried once on the other; capacity is used, never exceeded', async () => {
    const [a, b, caller] = await Promise.all([0, 1, 2].map(() => DistributedRuntime.create(onNats(nats.url))));
    const ga = await gated(a!, 4);
    const gb = await gated(b!, 4);
    const client = await caller!.namespace('ns').component('c').endpoint('gated').client();
    await client.waitForInstances({ count: 2 });
    // A full (4, sent to it directly), B with 2: of the next two requests round-robin sends one to
    // A first — refused, it is retried on B — so both run on B
    const first = [
      ...Array.from({ length: 4 }, (_, i) => client.generate<number>(i, { instanceId: a!.instanceId }).collect()),
      ...Array.from({ length: 2 }, (_, i) => client.generate<number>(4 + i, { instanceId: b!.instanceId }).collect()),
    ];
    await eventually(async () => (ga.running() === 4 && gb.running() === 2 ? true : undefined), 5000, 'A full, B half');
    const more = Array.from({ length: 2 }, (_, i) => client.generate<number>(100 + i).collect());
    await eventually(async () => (gb.running() === 4 ? true : undefined), 5000, 'both on B: every slot used');
    const third = Array.from({ length: 2 }, (_, i) => client.generate<number>(200 + i).collect());
    await Promise.all(third.map((p) => assert.rejects(p, { code: ErrorCode.Overloaded })));
    assert.deepEqual([ga.running(), gb.running()], [4, 4]);
    // each of the two failed requests was refused twice (once on each), the one retried once
    const rejected = async (rt: DistributedRuntime) =>
      sampleValue(parseExposition(await rt.metricsText()), 'dynamo_component_rejected_requests_total', 'dynamo_component_rejected_requests_total', { dynamo_endpoint: 'gated' });
    assert.equal((await rejected(a!)) + (await rejected(b!)), 5);
    ga.release();
    gb.release();
    assert.deepEqual(await Promise.all([...first, ...more]), [[0], [1], [2], [3], [4], [5], [100], [101]]);
    assert.deepEqual([ga.peak(), gb.peak()], [4, 4]);
    await client.close();
    await Promise.all([a!, b!, caller!].map((rt) => rt.shutdown()));
  });

  it('refuses a maxConcurrency that is not a whole number ≥ 1, and a malformed DYN_ENDPOINT_MAX_CONCURRENCY', async () => {
    const rt = await DistributedRuntime.create(onNats(nats.url));
    await assert.rejects(rt.namespace('ns').component('c').endpoint('bad').serve(() => 1, { maxConcurrency: 0 }), { code: ErrorCode.InvalidOption });
    await assert.rejects(rt.namespace('ns').component('c').endpoint('bad2').serve(() => 1, { maxConcurrency: 2.5 }), { code: ErrorCode.InvalidOption });
    await rt.shutdown();
    await assert.rejects(DistributedRuntime.create({ ...onNats(nats.url), env: { NATS_SERVER: nats.url, DYN_ENDPOINT_MAX_CONCURRENCY: 'many' } }), {
      code: ErrorCode.InvalidEnv,
      message: /DYN_ENDPOINT_MAX_CONCURRENCY/,
    });
  });
});
