import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, headers, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { DistributedRuntime, ERROR_TYPES, type Endpoint, type EndpointClient } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { eventually } from '../helpers/tools.ts';

const MAX_PAYLOAD = 64 * 1024;
const TOTAL = Number(process.env['FUZZ_MESSAGES'] ?? 3000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261121);

/** mulberry32: a small seeded generator, so a failure can be replayed with FUZZ_SEED. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Expect = 'ok' | (typeof ERROR_TYPES)[number];
interface Raw {
  kind: string;
  expect: Expect;
  data: Uint8Array;
  headers?: MsgHdrs;
  reply: boolean;
}

const enc = new TextEncoder();

function protocolHeaders(id: string, extra: Array<[string, string]> = []): MsgHdrs {
  const h = headers();
  h.set('Dynamo-Protocol', '1');
  h.set('Dynamo-Request-Id', id);
  h.set('Dynamo-Content-Type', 'application/json');
  for (const [k, v] of extra) h.append(k, v);
  return h;
}

function randomBytes(r: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  b[0] = 0xff; // never valid UTF-8, so never accidentally JSON
  return b;
}

/** One malformed message of a random kind, and the error_type it must be counted under. */
function malformed(r: () => number, i: number): Raw {
  const id = `fz-${i}`;
  const body = enc.encode(JSON.stringify({ i, pad: 'p'.repeat(Math.floor(r() * 200)) }));
  const kinds: Array<() => Raw> = [
    () => ({ kind: 'random bytes', expect: 'deserialization', data: randomBytes(r, 1 + Math.floor(r() * 2000)), reply: true }),
    () => ({ kind: 'random bytes, no reply', expect: 'deserialization', data: randomBytes(r, 1 + Math.floor(r() * 100)), reply: false }),
    () => ({ kind: 'invalid UTF-8', expect: 'deserialization', data: Uint8Array.from([0x22, 0xc3, 0x28, 0x22]), headers: protocolHeaders(id), reply: true }),
    () => ({ kind: 'truncated JSON', expect: 'deserialization', data: body.subarray(0, 1 + Math.floor(r() * (body.length - 2))), headers: protocolHeaders(id), reply: true }),
    () => ({ kind: 'empty, protocol headers', expect: 'deserialization', data: new Uint8Array(), headers: protocolHeaders(id), reply: true }),
    () => ({ kind: 'empty, no headers', expect: 'deserialization', data: new Uint8Array(), reply: true }),
    () => ({ kind: 'no protocol headers', expect: 'invalid_message', data: body, reply: true }),
    () => ({ kind: 'wrong protocol version', expect: 'invalid_message', data: body, headers: (() => { const h = protocolHeaders(id); h.set('Dynamo-Protocol', String(2 + Math.floor(r() * 9))); return h; })(), reply: true }),
    () => ({ kind: 'duplicated protocol header', expect: 'invalid_message', data: body, headers: protocolHeaders(id, [['Dynamo-Protocol', '1']]), reply: true }),
    () => ({ kind: 'unknown content type', expect: 'invalid_message', data: body, headers: (() => { const h = protocolHeaders(id); h.set('Dynamo-Content-Type', 'text/xml'); return h; })(), reply: true }),
    () => ({ kind: 'malformed request id', expect: 'invalid_message', data: body, headers: (() => { const h = protocolHeaders(id); h.set('Dynamo-Request-Id', 'has space!'); return h; })(), reply: true }),
    () => ({ kind: 'garbage header block', expect: 'invalid_message', data: body, headers: { encode: () => enc.encode(`GARBAGE ${i}\r\n\r\n`) } as unknown as MsgHdrs, reply: true }),
    () => ({ kind: 'valid request, no reply subject', expect: 'response_stream', data: body, headers: protocolHeaders(id), reply: false }),
  ];
  return kinds[Math.floor(r() * kinds.length)]!();
}

describe('wire fuzzing: malformed messages mixed with valid requests', () => {
  let nats: NatsServer;
  let server: DistributedRuntime;
  let clientRt: DistributedRuntime;
  let ep: Endpoint;
  let client: EndpointClient;
  let raw: NatsConnection;

  before(async () => {
    nats = await startNatsServer({ maxPayload: MAX_PAYLOAD });
    const opts = { env: { NATS_SERVER: nats.url }, handleSignals: false as const, logSink: () => {} };
    server = await DistributedRuntime.create(opts);
    clientRt = await DistributedRuntime.create(opts);
    ep = server.namespace('ns').component('comp').endpoint('fuzz');
    await ep.serve(async function* (req: { i: number; pad: string }) {
      yield req.i;
      yield req.pad.length;
    });
    client = await clientRt.namespace('ns').component('comp').endpoint('fuzz').client({ timeoutMs: 20_000 });
    await client.waitForInstances();
    raw = await connect({ servers: nats.url });
  });
  after(async () => {
    await raw.close();
    await client.close();
    await clientRt.shutdown();
    await server.shutdown();
    await nats.stop();
  });

  it(`never crashes or stalls; valid requests get full answers; each bad message counts once under its error_type (${TOTAL} messages, seed ${SEED})`, async () => {
    const r = rng(SEED);
    const expected: Record<string, number> = Object.fromEntries(ERROR_TYPES.map((t) => [t, 0]));
    const replies = new Map<string, string[]>();
    const wanted = new Map<string, string>();
    const inbox = `_INBOX.fuzz`;
    raw.subscribe(`${inbox}.*`, {
      callback: (err, msg) => {
        if (err !== null) return;
        const list = replies.get(msg.subject) ?? [];
        list.push(msg.headers?.get('Dynamo-Error-Type') ?? `kind:${msg.headers?.get('Dynamo-Kind') ?? ''}`);
        replies.set(msg.subject, list);
      },
    });
    await raw.flush();

    const valid: Array<Promise<string | undefined>> = [];
    let sent = 0;
    for (let i = 0; i < TOTAL; i++) {
      if (r() < 0.3) {
        const big = r() < 0.05;
        const pad = 'v'.repeat(big ? MAX_PAYLOAD - 2048 : Math.floor(r() * 300));
        valid.push(
          client
            .generate<number>({ i, pad })
            .collect()
            .then((got) => (got[0] === i && got[1] === pad.length && got.length === 2 ? undefined : `request ${i}: ${JSON.stringify(got)}`))
            .catch((e: unknown) => `request ${i}: ${String(e)}`),
        );
      } else {
        const m = malformed(r, i);
        expected[m.expect]!++;
        const reply = m.reply ? `${inbox}.${i}` : undefined;
        if (reply !== undefined) wanted.set(reply, m.expect);
        raw.publish(ep.subject, m.data, { ...(reply === undefined ? {} : { reply }), ...(m.headers === undefined ? {} : { headers: m.headers }) });
      }
      sent++;
      if (i % 100 === 0) await new Promise((res) => setImmediate(res));
    }
    await raw.flush();

    assert.deepEqual((await Promise.all(valid)).filter((x) => x !== undefined), []);
    await eventually(async () => (ep.recorder.requests === sent && ep.recorder.inflight === 0 ? true : undefined), 20_000, 'every message counted');
    await eventually(async () => ([...wanted.keys()].every((k) => replies.has(k)) ? true : undefined), 10_000, 'every bad message with a reply answered');

    const counted = Object.fromEntries(ERROR_TYPES.map((t) => [t, ep.recorder.errorCount(t)]));
    assert.deepEqual(counted, { ...expected, generate: 0, publish_response: 0, publish_final: 0 });
    assert.equal(ep.recorder.requests, sent);
    assert.equal(ep.recorder.inflight, 0);
    for (const [subject, type] of wanted) assert.deepEqual(replies.get(subject), [type], subject);
    assert.equal(replies.size, wanted.size);
    // still serving
    assert.deepEqual(await client.generate<number>({ i: -1, pad: 'ok' }).collect(), [-1, 2]);
    console.log(`fuzzed ${sent} messages: ${sent - [...Object.values(expected)].reduce((a, b) => a + b, 0)} valid, errors ${JSON.stringify(counted)}`);
  });
});
