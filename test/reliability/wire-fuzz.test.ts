import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connect, headers, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { DistributedRuntime, ERROR_TYPES, type Endpoint, type EndpointClient } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { rawRequest } from '../helpers/raw-request.ts';
import { viewOf } from '../helpers/scraped.ts';
import { eventually } from '../helpers/tools.ts';
import { rng } from '../helpers/rng.ts';

const MAX_PAYLOAD = 64 * 1024;
const TOTAL = Number(process.env['FUZZ_MESSAGES'] ?? 3000);
const CLIENT_TOTAL = Number(process.env['FUZZ_CLIENT_MESSAGES'] ?? 5000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261121);

type Expect = (typeof ERROR_TYPES)[number];
interface Raw {
  kind: string;
  expect: Expect;
  data: Uint8Array;
  headers?: MsgHdrs;
  /** Where the answer goes; undefined for none. */
  reply?: string;
  /** Whether an answer must come (false for reply subjects the server never publishes to). */
  answered: boolean;
}

const enc = new TextEncoder();

/** A header block nats.js would never build: sent as given. */
function rawBlock(text: string): MsgHdrs {
  return { encode: () => enc.encode(text) } as unknown as MsgHdrs;
}

function randomBytes(r: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  b[0] = 0xff; // never valid UTF-8, so never accidentally JSON
  return b;
}

/** One malformed message of a random kind for the endpoint subject, and the error_type it must be counted under. */
function malformed(r: () => number, i: number, subject: string, inbox: string, trap: string): Raw {
  const body = JSON.stringify({ i, pad: 'p'.repeat(Math.floor(r() * 200)) });
  const valid = rawRequest(subject, body, { inbox, requestId: `fz-${i}` });
  const edited = (edit: (h: MsgHdrs) => void): MsgHdrs => {
    edit(valid.headers);
    return valid.headers;
  };
  const plain = `${inbox}.plain${i}`;
  const kinds: Array<() => Raw> = [
    () => ({ kind: 'random bytes', expect: 'deserialization', data: randomBytes(r, 1 + Math.floor(r() * 2000)), reply: plain, answered: true }),
    () => ({ kind: 'random bytes, no reply', expect: 'deserialization', data: randomBytes(r, 1 + Math.floor(r() * 100)), answered: false }),
    () => ({ kind: 'invalid UTF-8', expect: 'deserialization', data: Uint8Array.from([0x22, 0xc3, 0x28, 0x22]), headers: valid.headers, reply: valid.reply, answered: true }),
    () => ({ kind: 'truncated JSON', expect: 'deserialization', data: valid.data.subarray(0, 1 + Math.floor(r() * (valid.data.length - 2))), headers: valid.headers, reply: valid.reply, answered: true }),
    () => ({ kind: 'empty, protocol headers', expect: 'deserialization', data: new Uint8Array(), headers: valid.headers, reply: valid.reply, answered: true }),
    () => ({ kind: 'empty, no headers', expect: 'deserialization', data: new Uint8Array(), reply: plain, answered: true }),
    () => ({ kind: 'malformed header block', expect: 'deserialization', data: valid.data, headers: rawBlock('NATS/1.0\r\nBad Key: x\r\n\r\n'), reply: plain, answered: true }),
    () => ({ kind: 'no protocol headers', expect: 'invalid_message', data: valid.data, reply: plain, answered: true }),
    () => ({ kind: 'protocol 1', expect: 'invalid_message', data: valid.data, headers: edited((h) => h.set('Dynamo-Protocol', '1')), reply: valid.reply, answered: true }),
    () => ({ kind: 'unknown protocol version', expect: 'invalid_message', data: valid.data, headers: edited((h) => h.set('Dynamo-Protocol', String(3 + Math.floor(r() * 9)))), reply: valid.reply, answered: true }),
    () => ({ kind: 'duplicated protocol header', expect: 'invalid_message', data: valid.data, headers: edited((h) => h.append('Dynamo-Protocol', '2')), reply: valid.reply, answered: true }),
    () => ({ kind: 'unknown content type', expect: 'invalid_message', data: valid.data, headers: edited((h) => h.set('Dynamo-Content-Type', 'text/xml')), reply: valid.reply, answered: true }),
    () => ({ kind: 'malformed request id', expect: 'invalid_message', data: valid.data, headers: edited((h) => h.set('Dynamo-Request-Id', 'has space!')), reply: valid.reply, answered: true }),
    () => ({ kind: 'no key', expect: 'invalid_message', data: valid.data, headers: edited((h) => h.delete('Dynamo-Key')), reply: valid.reply, answered: true }),
    () => ({ kind: 'key of another reply subject', expect: 'invalid_message', data: valid.data, headers: valid.headers, reply: `${inbox}.${randomUUID().replaceAll('-', '')}`, answered: true }),
    () => ({ kind: 'key, body edited', expect: 'invalid_message', data: enc.encode(JSON.stringify({ i, pad: 'edited' })), headers: valid.headers, reply: valid.reply, answered: true }),
    () => ({ kind: 'bad window', expect: 'invalid_message', data: valid.data, headers: edited((h) => h.set('Dynamo-Window', r() < 0.5 ? '-1' : '1e3x')), reply: valid.reply, answered: true }),
    () => ({ kind: 'garbage header block', expect: 'invalid_message', data: valid.data, headers: rawBlock(`GARBAGE ${i}\r\n\r\n`), reply: plain, answered: true }),
    () => ({ kind: 'too many header entries', expect: 'invalid_message', data: valid.data, headers: edited((h) => { for (let k = 0; k < 70; k++) h.append(`X-${k}`, 'v'); }), reply: valid.reply, answered: true }),
    () => ({ kind: 'header block over the byte limit', expect: 'invalid_message', data: valid.data, headers: edited((h) => h.set('X-Big', 'b'.repeat(17_000))), reply: valid.reply, answered: true }),
    () => ({ kind: 'valid request, no reply subject', expect: 'response_stream', data: valid.data, headers: valid.headers, answered: false }),
    () => ({ kind: 'reply subject on the request plane', expect: 'response_stream', data: valid.data, headers: valid.headers, reply: `${trap}.${valid.tag}`, answered: false }),
    () => ({ kind: 'reply subject with a wildcard', expect: 'response_stream', data: valid.data, headers: valid.headers, reply: `${inbox}.*`, answered: false }),
  ];
  return kinds[Math.floor(r() * kinds.length)]!();
}

/** One hostile message for a client's inbox: never a valid response of the instance serving that stream. */
function hostile(r: () => number, replySubject: string, instanceId: string): { subject: string; data: Uint8Array; headers?: MsgHdrs } {
  const inboxPrefix = replySubject.slice(0, replySubject.lastIndexOf('.'));
  const v2 = (kind: string, instance?: string, extra: Array<[string, string]> = []): MsgHdrs => {
    const h = headers();
    h.set('X-Fuzz', '1');
    h.set('Dynamo-Protocol', '2');
    h.set('Dynamo-Kind', kind);
    if (instance !== undefined) h.set('Dynamo-Instance', instance);
    for (const [k, val] of extra) h.append(k, val);
    return h;
  };
  const stranger = `i${Math.floor(r() * 1e9)}`;
  const json = enc.encode(JSON.stringify('PWNED'));
  const kinds: Array<() => { subject: string; data: Uint8Array; headers?: MsgHdrs }> = [
    () => ({ subject: replySubject, data: randomBytes(r, 1 + Math.floor(r() * 500)) }),
    () => ({ subject: replySubject, data: json, headers: rawBlock('NATS/1.0\r\nBad Key: x\r\n\r\n') }),
    () => ({ subject: replySubject, data: json, headers: rawBlock(`NATS/1.0\r\n${Array.from({ length: 200 }, (_, k) => `X-${k}: v`).join('\r\n')}\r\n\r\n`) }),
    () => ({ subject: replySubject, data: json, headers: v2('data', instanceId, [['X-Big', 'b'.repeat(17_000)]]) }),
    () => ({ subject: replySubject, data: json, headers: v2('data', stranger) }),
    () => ({ subject: replySubject, data: json, headers: v2('data') }),
    () => ({ subject: replySubject, data: enc.encode('{"count":0}'), headers: v2('end', stranger) }),
    () => ({ subject: replySubject, data: enc.encode('{"type":"generate","message":"PWNED"}'), headers: v2('error', undefined, [['Dynamo-Error-Type', 'generate']]) }),
    () => ({ subject: replySubject, data: enc.encode('{"type":"generate","message":"PWNED"}'), headers: v2('error', stranger, [['Dynamo-Error-Type', 'generate']]) }),
    () => ({ subject: replySubject, data: json, headers: v2('data', instanceId, [['Dynamo-Instance', stranger]]) }),
    () => ({ subject: replySubject, data: randomBytes(r, 20), headers: v2('data', instanceId) }),
    () => ({ subject: replySubject, data: enc.encode('{"count":"x"}'), headers: v2('end', instanceId) }),
    () => ({ subject: replySubject, data: json, headers: v2('PWNED', instanceId) }),
    () => {
      const h = v2('error', instanceId);
      h.set('Dynamo-Protocol', '1');
      return { subject: replySubject, data: enc.encode('{"type":"invalid_message","message":"PWNED"}'), headers: h };
    },
    () => ({ subject: replySubject, data: new Uint8Array(), headers: rawBlock('NATS/1.0 503\r\n\r\n') }),
    () => ({ subject: `${inboxPrefix}.${randomUUID().replaceAll('-', '').slice(0, 22)}`, data: json, headers: v2('data', instanceId) }),
    () => ({ subject: `${inboxPrefix}.${randomUUID().replaceAll('-', '').slice(0, 22)}`, data: randomBytes(r, 50) }),
  ];
  return kinds[Math.floor(r() * kinds.length)]!();
}

describe('wire fuzzing', () => {
  let nats: NatsServer;
  let server: DistributedRuntime;
  let clientRts: DistributedRuntime[];
  let ep: Endpoint;
  let raw: NatsConnection;

  before(async () => {
    nats = await startNatsServer({ maxPayload: MAX_PAYLOAD });
    const opts = { env: { NATS_SERVER: nats.url }, handleSignals: false as const, logSink: () => {} };
    server = await DistributedRuntime.create(opts);
    clientRts = [await DistributedRuntime.create(opts), await DistributedRuntime.create(opts)];
    ep = server.namespace('ns').component('comp').endpoint('fuzz');
    await ep.serve(async function* (req: { i: number; pad: string; pieces?: number }) {
      yield req.i;
      yield req.pad.length;
      for (let k = 0; k < (req.pieces ?? 0); k++) {
        // a turn of the event loop per piece: hostile messages land while the stream is open
        await new Promise((resolve) => setImmediate(resolve));
        yield `piece-${k}`;
      }
    });
    raw = await connect({ servers: nats.url });
  });
  after(async () => {
    await raw.close();
    for (const rt of clientRts) await rt.shutdown();
    await server.shutdown();
    await nats.stop();
  });

  async function clientOf(rt: DistributedRuntime): Promise<EndpointClient> {
    const client = await rt.namespace('ns').component('comp').endpoint('fuzz').client({ timeoutMs: 20_000 });
    await client.waitForInstances();
    return client;
  }

  it(`server side: never crashes or stalls; valid requests get full answers; each bad message counts once under its error_type (${TOTAL} messages, seed ${SEED})`, async () => {
    const client = await clientOf(clientRts[0]!);
    const r = rng(SEED);
    const expected: Record<string, number> = Object.fromEntries(ERROR_TYPES.map((t) => [t, 0]));
    const replies = new Map<string, string[]>();
    const wanted = new Map<string, string>();
    const inbox = '_INBOX.fuzz';
    const trap = 'dynamo.fuzztrap';
    let trapped = 0;
    raw.subscribe(`${inbox}.*`, {
      callback: (err, msg) => {
        if (err !== null) return;
        const list = replies.get(msg.subject) ?? [];
        list.push(msg.headers?.get('Dynamo-Error-Type') ?? `kind:${msg.headers?.get('Dynamo-Kind') ?? ''}`);
        replies.set(msg.subject, list);
      },
    });
    raw.subscribe(`${trap}.>`, {
      callback: () => {
        trapped++;
      },
    });
    await raw.flush();
    const before = (await viewOf(server, 'fuzz')).requests;

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
        const m = malformed(r, i, ep.subject, inbox, trap);
        expected[m.expect]!++;
        if (m.answered) wanted.set(m.reply!, m.expect);
        raw.publish(ep.subject, m.data, { ...(m.reply === undefined ? {} : { reply: m.reply }), ...(m.headers === undefined ? {} : { headers: m.headers }) });
      }
      sent++;
      if (i % 100 === 0) await new Promise((res) => setImmediate(res));
    }
    await raw.flush();

    assert.deepEqual((await Promise.all(valid)).filter((x) => x !== undefined), []);
    const view = await eventually(async () => {
      const v = await viewOf(server, 'fuzz');
      return v.requests - before === sent && v.inflight === 0 ? v : undefined;
    }, 20_000, 'every message counted');
    await eventually(async () => ([...wanted.keys()].every((k) => replies.has(k)) ? true : undefined), 10_000, 'every bad message with an allowed reply subject answered');

    const counted = view.errors;
    assert.deepEqual(counted, { ...expected, generate: 0, publish_response: 0, publish_final: 0 });
    for (const [subject, type] of wanted) assert.deepEqual(replies.get(subject), [type], subject);
    assert.equal(replies.size, wanted.size, 'nothing answered that must not be');
    assert.equal(trapped, 0, 'nothing published to a request-plane subject');
    // still serving
    assert.deepEqual(await client.generate<number>({ i: -1, pad: 'ok' }).collect(), [-1, 2]);
    await client.close();
    console.log(`fuzzed ${sent} messages: ${sent - [...Object.values(expected)].reduce((a, b) => a + b, 0)} valid, errors ${JSON.stringify(counted)}`);
  });

  it(`client side: ${CLIENT_TOTAL} hostile messages to live clients' inboxes while they stream; every stream exact, every message dropped and counted (seed ${SEED})`, async () => {
    const clients = await Promise.all(clientRts.map(clientOf));
    const r = rng(SEED + 1);
    const instanceId = server.instanceId;
    let hostileSent = 0;
    const budget = (): boolean => hostileSent < CLIENT_TOTAL;
    // The attacker sees every response on the bus (no NATS permissions here) and answers each
    // stream's first response with a burst of hostile messages to that stream's reply subject.
    const requested = new Set<string>();
    for (const subject of [ep.subject, `${ep.subject}.*`]) {
      raw.subscribe(subject, {
        callback: (err, msg) => {
          if (err === null && msg.reply !== undefined) requested.add(msg.reply);
        },
      });
    }
    raw.subscribe('_INBOX.>', {
      callback: (err, msg) => {
        if (err !== null || !requested.delete(msg.subject)) return;
        const burst = 5 + Math.floor(r() * 30);
        const fire = (n: number): void => {
          for (let k = 0; k < n && budget(); k++) {
            const m = hostile(r, msg.subject, instanceId);
            raw.publish(m.subject, m.data, m.headers === undefined ? {} : { headers: m.headers });
            hostileSent++;
          }
        };
        fire(Math.ceil(burst / 2));
        setImmediate(() => fire(Math.floor(burst / 2)));
      },
    });
    await raw.flush();

    const failures: string[] = [];
    let streams = 0;
    let round = 0;
    while (budget()) {
      const batch: Array<Promise<void>> = [];
      for (let k = 0; k < 16; k++) {
        const i = round * 16 + k;
        const pieces = Math.floor(r() * 40);
        const client = clients[k % clients.length]!;
        batch.push(
          client
            .generate<number | string>({ i, pad: 'x'.repeat(i % 50), pieces })
            .collect()
            .then((got) => {
              const want = [i, i % 50, ...Array.from({ length: pieces }, (_, p) => `piece-${p}`)];
              if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`request ${i}: ${JSON.stringify(got).slice(0, 200)}`);
            })
            .catch((e: unknown) => void failures.push(`request ${i}: ${String(e)}`)),
        );
        streams++;
      }
      await Promise.all(batch);
      round++;
    }
    await raw.flush();
    const dropped = (): number => clients.reduce((sum, c) => sum + c.stats().rejectedMessages + c.stats().unmatchedMessages, 0);
    await eventually(async () => (dropped() === hostileSent ? true : undefined), 10_000, `all ${hostileSent} hostile messages dropped`);

    assert.deepEqual(failures, []);
    assert.equal(dropped(), hostileSent);
    assert.ok(clients.every((c) => c.stats().rejectedMessages > 0), 'hostile messages reached open streams');
    assert.equal((await viewOf(server, 'fuzz')).inflight, 0);
    console.log(`${hostileSent} hostile messages during ${streams} streams: ${JSON.stringify(clients.map((c) => c.stats()))}`);
    for (const c of clients) await c.close();
  });
});
