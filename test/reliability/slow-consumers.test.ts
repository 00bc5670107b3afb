import assert from 'node:assert/strict';
import { after, before, describe, it, mock } from 'node:test';
import { connect, type Msg } from '@nats-io/transport-node';
import { DistributedRuntime, type RequestContext } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { rawRequest } from '../helpers/raw-request.ts';
import { scrapeEndpoint, STATUS_SERVER_ENV, type EndpointView } from '../helpers/scrape.ts';
import { waitFor, waitForValue } from '../helpers/wait.ts';

const PIECE = 'x'.repeat(1000);
const PIECE_BYTES = 1002; // as JSON
const L = { dynamo_endpoint: 'huge' };

describe('slow and absent readers: the server holds the handler, not memory', () => {
  let nats: NatsServer;
  let server: DistributedRuntime;
  let clientRt: DistributedRuntime;
  /** Pieces each request's handler has produced, by the request's body. */
  const produced = new Map<string, number>();
  const aborts = new Map<string, number>();
  const metrics = (): Promise<EndpointView> => scrapeEndpoint(server.systemPort!, L);

  before(async () => {
    nats = await startNatsServer();
    const opts = { env: { NATS_SERVER: nats.url }, handleSignals: false as const, logSink: () => {} };
    server = await DistributedRuntime.create({ ...opts, env: { ...opts.env, ...STATUS_SERVER_ENV }, streamStallTimeoutMs: 1500 });
    clientRt = await DistributedRuntime.create(opts);
    await server.namespace('ns').component('c').endpoint('huge').serve(async function* (req: string, ctx: RequestContext) {
      ctx.signal.addEventListener('abort', () => aborts.set(req, (aborts.get(req) ?? 0) + 1));
      for (let i = 0; i < 100_000; i++) {
        produced.set(req, (produced.get(req) ?? 0) + 1);
        yield PIECE; // 100 MB if nothing held it back
      }
    });
  });
  after(async () => {
    await clientRt.shutdown();
    await server.shutdown();
    await nats.stop();
  });

  it('a reader that stops reading stalls the stream at its window; reading again resumes it exactly', async () => {
    // A spy on every reply inbox: the responses as they travel, to hold /metrics' byte count against.
    const spy = await connect({ servers: nats.url });
    const spied = { bytes: 0, kinds: {} as Record<string, number> };
    spy.subscribe('_INBOX.>', {
      callback: (_err: unknown, msg: Msg) => {
        if (!msg.headers?.get('Dynamo-Kind')) return; // discovery answers share the inbox prefix
        const kind = msg.headers.get('Dynamo-Error-Type') || msg.headers.get('Dynamo-Kind');
        spied.kinds = { ...spied.kinds, [kind]: (spied.kinds[kind] ?? 0) + 1 };
        spied.bytes += msg.data.length;
      },
    });
    await spy.flush();
    const start = await metrics();
    // The client's one-second tick (re-acknowledge a waiting reader; heartbeat a full window) runs
    // on the test's clock here: it fires when the test says, not when a loaded machine happens to
    // get round to it, so each stall point is exact.
    mock.timers.enable({ apis: ['setInterval'] });
    const client = await clientRt.namespace('ns').component('c').endpoint('huge').client({ window: 64 });
    try {
      await client.waitForInstances();
      const stream = client.generate<string>('stalled');
      for (let i = 0; i < 10; i++) assert.equal((await stream.next()).value, PIECE);
      const stall = async () => ({ produced: produced.get('stalled'), responseBytes: (await metrics()).responseBytes - start.responseBytes });

      // The reader has taken 10 and acknowledged none (it acknowledges every half window, 32): the
      // server sends exactly the window, 64, and holds the handler with the 65th piece pulled.
      await waitForValue(stall, { produced: 65, responseBytes: 64 * PIECE_BYTES }, { what: 'the stream stalled at its window' });

      // The tick: a full window says it is still there, acknowledging the 10 it took — the window
      // slides by exactly that, and the stream stalls again at 10 + 64.
      mock.timers.tick(1000);
      await waitForValue(stall, { produced: 75, responseBytes: 74 * PIECE_BYTES }, { what: 'the stream stalled again after the heartbeat' });

      // It stays held while the server goes on serving: a whole other stream starts and ends meanwhile.
      let probed = 0;
      for await (const v of client.generate<string>('probe')) {
        assert.equal(v, PIECE);
        if (++probed === 5) break;
      }
      await waitFor(async () => (await metrics()).inflight, { what: 'only the stalled stream in flight', until: (n) => n === 1 });
      assert.equal(produced.get('stalled'), 75, 'the stalled handler ran ahead');

      let more = 0;
      for await (const v of stream) {
        assert.equal(v, PIECE);
        if (++more === 2000) break;
      }
      const end = await waitFor(metrics, { what: 'the resumed stream cancelled', until: (v) => v.inflight === 0 });
      // Read 2010; acknowledged at most 2010; so at most 2010 + 64 sent and one more pulled.
      const made = produced.get('stalled')!;
      assert.ok(made >= 2010 && made <= 2010 + 64 + 1, `produced ${made}`);
      const probeMade = produced.get('probe')!;
      assert.ok(probeMade >= 5 && probeMade <= 64 + 1, `probe produced ${probeMade}`); // read 5, acknowledged none
      assert.equal(end.requests - start.requests, 2);
      assert.equal(end.errorTotal - start.errorTotal, 0, 'a reader leaving early is not an endpoint error');
      // What /metrics says was sent is what went over the wire, to the byte: the data messages, and
      // one terminal `cancelled` message per stream the reader left.
      const wire = await waitFor(() => ({ ...spied }), { what: 'every published response seen on the wire', until: (w) => w.bytes === end.responseBytes - start.responseBytes });
      assert.deepEqual(wire.kinds, { data: wire.kinds['data'], cancelled: 2 });
      const sent = wire.kinds['data']!;
      // Every piece published was produced; the last one each handler pulled may not have been.
      assert.ok(sent >= made + probeMade - 2 && sent <= made + probeMade, `sent ${sent} of ${made} + ${probeMade} produced`);
    } finally {
      mock.timers.reset();
      await client.close();
      await spy.close();
    }
  });

  it('a reader that keeps up acknowledges once per half window, not per response', async () => {
    // The client also acknowledges on its one-second tick (a waiting reader re-acknowledges, in
    // case an ack was lost). That tick is held still here — on a loaded machine it would fire
    // mid-stream and shift the count — so what is counted is the half-window acks alone.
    mock.timers.enable({ apis: ['setInterval'] });
    const client = await clientRt
      .namespace('ns')
      .component('c')
      .endpoint('huge')
      .client({ window: 128 })
      .finally(() => mock.timers.reset());
    await client.waitForInstances();
    const raw = await connect({ servers: nats.url });
    try {
      // acknowledgements are `<key> <consumed>`; the cancel that ends the test is the bare secret
      const acked: number[] = [];
      raw.subscribe(`_DYN.CTL.ns.c.huge.>`, {
        callback: (_err, msg) => {
          const body = msg.string();
          if (body.includes(' ')) acked.push(Number(body.split(' ')[1]));
        },
      });
      await raw.flush();
      let read = 0;
      for await (const _ of client.generate<string>('keeps-up')) if (++read === 1000) break;
      await waitFor(async () => (await metrics()).inflight, { what: 'the stream cancelled', until: (n) => n === 0 });
      await raw.flush();
      // one acknowledgement per half window: 64, 128, … 960 (a heartbeat tick may repeat one, never add a count)
      assert.deepEqual([...new Set(acked)], Array.from({ length: Math.floor(1000 / 64) }, (_, i) => (i + 1) * 64));
    } finally {
      await raw.close();
      await client.close();
    }
  });

  it('a reader that never acknowledges (gone without a word) is ended after the stall timeout', async () => {
    const start = await metrics();
    const raw = await connect({ servers: nats.url });
    try {
      const request = rawRequest(server.namespace('ns').component('c').endpoint('huge').subject, '"silent"', { inbox: '_INBOX.silent', window: 16 });
      const kinds: string[] = [];
      const sizes: number[] = [];
      raw.subscribe(request.reply, {
        callback: (_err, msg) => {
          kinds.push(msg.headers?.get('Dynamo-Error-Type') || (msg.headers?.get('Dynamo-Kind') ?? ''));
          sizes.push(msg.data.length);
        },
      });
      raw.publish(server.namespace('ns').component('c').endpoint('huge').subject, request.data, { reply: request.reply, headers: request.headers });
      await raw.flush();
      const end = await waitFor(metrics, { what: 'the abandoned stream ended', until: (v) => v.requests === start.requests + 1 && v.inflight === 0 });
      // Exactly the window went out, then the terminal message telling the reader its stream was
      // abandoned; the 17th piece was pulled and waited for credit that never came.
      await waitFor(() => kinds.length, { what: 'the terminal message', until: (n) => n === 17 });
      assert.deepEqual(kinds, [...Array<string>(16).fill('data'), 'cancelled']);
      assert.deepEqual(sizes.slice(0, 16), Array<number>(16).fill(PIECE_BYTES));
      assert.equal(end.responseBytes - start.responseBytes, sizes.reduce((a, b) => a + b, 0), 'response bytes: the window and the terminal message, to the byte');
      assert.equal(produced.get('silent'), 17);
      assert.equal(aborts.get('silent'), 1);
      assert.equal(end.errorTotal - start.errorTotal, 0, 'an abandoned stream is not an endpoint error');
    } finally {
      await raw.close();
    }
  });
});
