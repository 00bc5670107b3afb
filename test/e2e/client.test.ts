import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime, DynamoError, ErrorCode, RouterMode, type RequestContext, type Endpoint } from '../../src/index.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { eventually, freePort } from '../helpers/tools.ts';

const code = (c: string, re?: RegExp) => (err: unknown) => err instanceof DynamoError && err.code === c && (re === undefined || re.test(err.message));

async function gauge(rt: DistributedRuntime, ep: Endpoint, name = 'dynamo_component_inflight_requests'): Promise<number> {
  return sampleValue(parseExposition(await rt.metricsText()), name, name, { dynamo_endpoint: ep.name });
}

describe('client', () => {
  let nats: NatsServer;
  let opts: { env: Record<string, string>; handleSignals: false; logSink: () => void };
  const runtimes: DistributedRuntime[] = [];
  const rt = async () => {
    const r = await DistributedRuntime.create(opts);
    runtimes.push(r);
    return r;
  };

  before(async () => {
    nats = await startNatsServer();
    opts = { env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} };
  });
  after(async () => {
    await Promise.all(runtimes.map((r) => r.shutdown()));
    await nats.stop();
  });

  it('fails with DYN_ERR_NO_RESPONDERS when nothing serves the endpoint, DYN_ERR_NO_INSTANCES when waiting runs out', async () => {
    const client = await (await rt()).namespace('ns').component('none').endpoint('here').client();
    await assert.rejects(client.generate('hi').collect(), code(ErrorCode.NoResponders));
    await assert.rejects(client.waitForInstances({ timeoutMs: 300 }), code(ErrorCode.NoInstances, /0 of 1 instance/));
    await client.close();
  });

  it('times out a silent handler with DYN_ERR_TIMEOUT; the server sees the abort and in-flight returns to 0', async () => {
    const server = await rt();
    const ep = server.namespace('ns').component('c').endpoint('silent');
    let aborted!: () => void;
    const sawAbort = new Promise<void>((r) => (aborted = r));
    await ep.serve(async function* (_req: unknown, ctx: RequestContext) {
      ctx.signal.addEventListener('abort', () => aborted());
      await new Promise(() => {}); // never yields, never ends
      yield 'unreachable';
    });
    const client = await (await rt()).namespace('ns').component('c').endpoint('silent').client({ timeoutMs: 300 });
    await client.waitForInstances();
    await assert.rejects(client.generate('x').collect(), code(ErrorCode.Timeout, /300 ms/));
    await sawAbort;
    await eventually(async () => ((await gauge(server, ep)) === 0 ? true : undefined), 5000, 'in-flight 0');
    await client.close();
  });

  it('tells the server when the caller breaks out of the loop or aborts; no error is counted', async () => {
    const server = await rt();
    const ep = server.namespace('ns').component('c').endpoint('endless');
    const aborts: string[] = [];
    await ep.serve(async function* (_req: unknown, ctx: RequestContext) {
      ctx.signal.addEventListener('abort', () => aborts.push(ctx.requestId));
      for (let i = 0; ; i++) {
        yield i;
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    const client = await (await rt()).namespace('ns').component('c').endpoint('endless').client();
    await client.waitForInstances();
    const stream = client.generate<number>('go');
    const seen: number[] = [];
    for await (const v of stream) {
      seen.push(v);
      if (v === 3) break;
    }
    assert.deepEqual(seen, [0, 1, 2, 3]);
    const controller = new AbortController();
    const second = client.generate<number>('go', { signal: controller.signal });
    assert.deepEqual(await second.next(), { value: 0, done: false });
    controller.abort();
    await assert.rejects(second.collect(), code(ErrorCode.Cancelled));
    await eventually(async () => (aborts.length === 2 ? true : undefined), 5000, 'both handlers aborted');
    assert.deepEqual(aborts.sort(), [stream.requestId, second.requestId].sort());
    await eventually(async () => ((await gauge(server, ep)) === 0 ? true : undefined), 5000, 'in-flight 0');
    const f = parseExposition(await server.metricsText());
    const errors = f.get('dynamo_component_errors_total')!.samples.filter((s) => s.labels['dynamo_endpoint'] === 'endless');
    assert.deepEqual(errors.map((s) => s.value), [0, 0, 0, 0, 0, 0]);
    await client.close();
  });

  it('routes round-robin, random, or to a chosen instance', async () => {
    const servers = [await rt(), await rt()];
    const eps = servers.map((s) => s.namespace('ns').component('c').endpoint('who'));
    for (const ep of eps) await ep.serve((_req: unknown, ctx: RequestContext) => ctx.instanceId);
    const clientRt = await rt();
    const client = await clientRt.namespace('ns').component('c').endpoint('who').client();
    const instances = await client.waitForInstances({ count: 2 });
    const rr = await Promise.all(Array.from({ length: 6 }, () => client.generate<string>(null).collect()));
    assert.equal(rr.flat().filter((id) => id === instances[0]!.instanceId).length, 3);
    const chosen = servers[1]!.instanceId;
    const direct = await Promise.all(Array.from({ length: 5 }, () => client.generate<string>(null, { instanceId: chosen }).collect()));
    assert.deepEqual(direct.flat(), Array(5).fill(chosen));
    const random = await clientRt.namespace('ns').component('c').endpoint('who').client({ router: RouterMode.Random });
    await random.waitForInstances({ count: 2 });
    const got = new Set((await Promise.all(Array.from({ length: 40 }, () => random.generate<string>(null).collect()))).flat());
    assert.deepEqual([...got].sort(), servers.map((s) => s.instanceId).sort());
    await assert.rejects(clientRt.namespace('ns').component('c').endpoint('who').client({ router: 'nope' as RouterMode }), code(ErrorCode.InvalidOption));
    assert.throws(() => client.generate(null, { instanceId: 'a.*' }), code(ErrorCode.InvalidOption, /instanceId/));
    await client.close();
    await random.close();
  });

  it('fails a stream cut short by a lost connection with DYN_ERR_STREAM_CUT_SHORT', async () => {
    const own = await startNatsServer();
    try {
      const o = { env: { NATS_SERVER: own.url }, handleSignals: false as const, logSink: () => {}, shutdownGraceMs: 2000 };
      const server = await DistributedRuntime.create(o);
      const clientRt = await DistributedRuntime.create(o);
      await server.namespace('ns').component('c').endpoint('slow').serve(async function* () {
        for (let i = 0; i < 1000; i++) {
          yield i;
          await new Promise((r) => setTimeout(r, 10));
        }
      });
      const client = await clientRt.namespace('ns').component('c').endpoint('slow').client();
      await client.waitForInstances();
      const stream = client.generate<number>('go');
      assert.deepEqual(await stream.next(), { value: 0, done: false });
      await own.kill();
      await assert.rejects(stream.collect(), code(ErrorCode.StreamCutShort, /connection was lost/));
      await own.restart();
      // The cancel the client sent while disconnected is delivered after the reconnect: the handler stops.
      const ep = server.namespace('ns').component('c').endpoint('slow');
      await eventually(async () => ((await gauge(server, ep)) === 0 ? true : undefined), 10_000, 'in-flight 0 after reconnect');
      await client.close();
      await Promise.all([server.shutdown(), clientRt.shutdown()]);
    } finally {
      await own.stop();
    }
  });

  it('refuses to start with DYN_ERR_NATS_CONNECT naming the URL when no NATS server answers', async () => {
    const port = await freePort();
    await assert.rejects(
      DistributedRuntime.create({ env: { NATS_SERVER: `nats://127.0.0.1:${port}` }, handleSignals: false, logSink: () => {} }),
      code(ErrorCode.NatsConnect, new RegExp(`nats://127\\.0\\.0\\.1:${port}.*NATS_SERVER`)),
    );
  });

  it('passes credentials through to the NATS client (token auth), and names the URL when they are wrong', async () => {
    const secured = await startNatsServer({ token: 's3cret' });
    try {
      const env = { NATS_SERVER: secured.url };
      await assert.rejects(
        DistributedRuntime.create({ env, handleSignals: false, logSink: () => {}, nats: { token: 'wrong' } }),
        code(ErrorCode.NatsConnect, new RegExp(secured.url.replace(/[.]/g, '\\.'))),
      );
      const server = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {}, nats: { token: 's3cret' } });
      const ep = server.namespace('ns').component('c').endpoint('authed');
      await ep.serve((x: string) => x.length);
      const client = await ep.client();
      await client.waitForInstances();
      assert.deepEqual(await client.generate('abcd').collect(), [4]);
      await client.close();
      await server.shutdown();
    } finally {
      await secured.stop();
    }
  });

  it('refuses to serve twice, and refuses without NATS', async () => {
    const server = await rt();
    const ep = server.namespace('ns').component('c').endpoint('twice');
    await ep.serve(() => 1);
    await assert.rejects(ep.serve(() => 2), code(ErrorCode.AlreadyServing));
    const offline = new DistributedRuntime({ env: {}, nats: false, handleSignals: false });
    await assert.rejects(offline.namespace('ns').component('c').endpoint('e').serve(() => 1), code(ErrorCode.NoNats, /nats: false/));
  });

  it('refuses a request that cannot be encoded with DYN_ERR_ENCODE', async () => {
    const client = await (await rt()).namespace('ns').component('c').endpoint('twice').client();
    assert.throws(() => client.generate({ n: 1n }), code(ErrorCode.Encode));
    await client.close();
  });

  it('passes raw bytes through untouched, both ways', async () => {
    const server = await rt();
    await server.namespace('ns').component('c').endpoint('bytes').serve(async function* (req: Uint8Array) {
      yield req.subarray(0, 2);
      yield Uint8Array.from(req).reverse();
    });
    const client = await (await rt()).namespace('ns').component('c').endpoint('bytes').client();
    await client.waitForInstances();
    const out = await client.generate<Uint8Array>(new Uint8Array([0, 255, 7, 1])).collect();
    assert.deepEqual(out.map((b) => [...b]), [[0, 255], [1, 7, 255, 0]]);
    await client.close();
  });
});
