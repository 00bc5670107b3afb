import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { rawRequest } from '../helpers/raw-request.ts';
import { DistributedRuntime, type RequestContext } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { eventually } from '../helpers/tools.ts';

const PIECE = 'x'.repeat(1000); // 1002 bytes as JSON

describe('slow and absent readers: the server holds the handler, not memory', () => {
  let nats: NatsServer;
  let server: DistributedRuntime;
  let clientRt: DistributedRuntime;
  let produced = 0;
  let aborts = 0;
  before(async () => {
    nats = await startNatsServer();
    const opts = { env: { NATS_SERVER: nats.url }, handleSignals: false as const, logSink: () => {} };
    server = await DistributedRuntime.create({ ...opts, streamStallTimeoutMs: 1500 });
    clientRt = await DistributedRuntime.create(opts);
    await server.namespace('ns').component('c').endpoint('huge').serve(async function* (_req: unknown, ctx: RequestContext) {
      ctx.signal.addEventListener('abort', () => aborts++);
      for (let i = 0; i < 100_000; i++) {
        produced++;
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
    produced = 0;
    const ep = server.namespace('ns').component('c').endpoint('huge');
    const client = await clientRt.namespace('ns').component('c').endpoint('huge').client({ window: 64 });
    await client.waitForInstances();
    const stream = client.generate<string>(null);
    for (let i = 0; i < 10; i++) assert.equal((await stream.next()).value, PIECE);
    await new Promise((r) => setTimeout(r, 700)); // stop reading for a while
    const bytesWhileStalled = ep.recorder.responseBytes;
    assert.ok(produced <= 10 + 64 + 1, `handler ran ahead: ${produced} produced`);
    assert.ok(bytesWhileStalled <= (10 + 64) * 1002, `published ${bytesWhileStalled} bytes`);
    assert.equal(ep.recorder.inflight, 1);
    let more = 0;
    for await (const v of stream) {
      assert.equal(v, PIECE);
      if (++more === 2000) break;
    }
    assert.ok(produced <= 10 + 2000 + 64 + 1, `handler ran ahead: ${produced} produced`);
    await eventually(async () => (ep.recorder.inflight === 0 ? true : undefined), 5000, 'cancelled');
    await client.close();
  });

  it('a reader that keeps up acknowledges once per half window, not per response', async () => {
    const ep = server.namespace('ns').component('c').endpoint('huge');
    const client = await clientRt.namespace('ns').component('c').endpoint('huge').client({ window: 128 });
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
      for await (const _ of client.generate<string>(null)) if (++read === 1000) break;
      await eventually(async () => (ep.recorder.inflight === 0 ? true : undefined), 5000, 'cancelled');
      await raw.flush();
      // one acknowledgement per half window: 64, 128, … 960 (a heartbeat tick may repeat one, never add a count)
      assert.deepEqual([...new Set(acked)], Array.from({ length: Math.floor(1000 / 64) }, (_, i) => (i + 1) * 64));
    } finally {
      await raw.close();
      await client.close();
    }
  });

  it('a reader that never acknowledges (gone without a word) is ended after the stall timeout', async () => {
    produced = 0;
    aborts = 0;
    const ep = server.namespace('ns').component('c').endpoint('huge');
    const before = ep.recorder.requests;
    const raw = await connect({ servers: nats.url });
    try {
      const request = rawRequest(ep.subject, 'null', { inbox: '_INBOX.silent', window: 16 });
      const kinds: string[] = [];
      raw.subscribe(request.reply, {
        callback: (_err, msg) => {
          kinds.push(msg.headers?.get('Dynamo-Error-Type') || (msg.headers?.get('Dynamo-Kind') ?? ''));
        },
      });
      raw.publish(ep.subject, request.data, { reply: request.reply, headers: request.headers });
      await raw.flush();
      await eventually(async () => (ep.recorder.requests === before + 1 && ep.recorder.inflight === 0 ? true : undefined), 8000, 'abandoned stream ended');
      // a window of data, then the terminal message telling the reader its stream was abandoned
      await eventually(async () => (kinds.length === 17 ? true : undefined), 5000, 'terminal message');
      assert.deepEqual(kinds, [...Array<string>(16).fill('data'), 'cancelled']);
      assert.ok(produced <= 17);
      assert.equal(aborts, 1);
      assert.equal(ep.recorder.errors.reduce((a, b) => a + b, 0), 0, 'an abandoned stream is not an endpoint error');
    } finally {
      await raw.close();
    }
  });
});
