/**
 * The eight attacks of issue 9, each driven by a raw hostile NATS connection (crafted bytes, no
 * code of the package's client) on a bus without permissions: the attacker reads every request
 * on `dynamo.>` and every response on `_INBOX.>` — the strongest peer short of one that forges
 * responses of the serving instance itself (docs/protocol.md, "What a peer on the bus can do").
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { connect, headers, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { DistributedRuntime, ErrorCode, type Endpoint, type EndpointClient, type ErrorType } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { rawRequest } from '../helpers/raw-request.ts';
import { viewOf } from '../helpers/scraped.ts';
import { eventually } from '../helpers/tools.ts';

const enc = new TextEncoder();

/** A header block sent byte for byte as given. */
function rawBlock(text: string): MsgHdrs {
  return { encode: () => enc.encode(text) } as unknown as MsgHdrs;
}

interface Seen {
  subject: string;
  reply: string;
  requestId: string;
  key: string;
  data: Uint8Array;
}

function liveStatus(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/live' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a hostile peer on a shared bus', () => {
  let nats: NatsServer;
  let server: DistributedRuntime;
  let callerRt: DistributedRuntime;
  let slow: Endpoint;
  let pwned: Endpoint;
  let counter: Endpoint;
  let client: EndpointClient;
  let evil: NatsConnection;
  /** Every request the attacker has seen on `dynamo.>`, newest last. */
  const seen: Seen[] = [];
  let produced = 0;

  const onSeen = new Set<() => void>();
  /** The request the attacker saw at position `from`, as soon as it is seen (the attacker acts at once). */
  const nextSeen = (from: number, what = 'a request on the bus'): Promise<Seen> =>
    new Promise<Seen>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 5000);
      const check = (): void => {
        const found = seen[from];
        if (found === undefined) return;
        clearTimeout(timer);
        onSeen.delete(check);
        resolve(found);
      };
      onSeen.add(check);
      check();
    });

  before(async () => {
    nats = await startNatsServer();
    const env = { NATS_SERVER: nats.url };
    server = await DistributedRuntime.create({ env: { ...env, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' }, handleSignals: false, logSink: () => {}, streamStallTimeoutMs: 60_000 });
    callerRt = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {} });
    slow = server.namespace('ns').component('c').endpoint('slow');
    await slow.serve(async function* (req: { n: number; delayMs?: number }) {
      for (let i = 0; i < req.n; i++) {
        if (req.delayMs) await new Promise((r) => setTimeout(r, req.delayMs));
        yield i;
      }
    });
    pwned = server.namespace('ns').component('c').endpoint('pwned');
    await pwned.serve(async function* () {
      yield* ['P', 'W', 'N', 'E', 'D'];
    });
    counter = server.namespace('ns').component('c').endpoint('counter');
    await counter.serve(async function* () {
      for (let i = 0; i < 2000; i++) {
        produced++;
        yield i;
      }
    });
    client = await callerRt.namespace('ns').component('c').endpoint('slow').client({ timeoutMs: 15_000, discoveryWindowMs: 5000 });
    await client.waitForInstances();
    evil = await connect({ servers: nats.url });
    evil.subscribe('dynamo.>', {
      callback: (_err, msg) => {
        // (never decode the attacker's own header bombs: that is the quadratic work they cause)
        if (msg.reply === undefined || msg.reply.startsWith('_INBOX.bomb')) return;
        try {
          seen.push({ subject: msg.subject, reply: msg.reply, requestId: msg.headers?.get('Dynamo-Request-Id') ?? '', key: msg.headers?.get('Dynamo-Key') ?? '', data: msg.data });
          for (const check of [...onSeen]) check();
        } catch {
          /* the attacker's own malformed requests */
        }
      },
    });
    await evil.flush();
  });

  after(async () => {
    await evil.close();
    await client.close();
    await callerRt.shutdown();
    await server.shutdown();
    await nats.stop();
  });

  /** What /metrics says: requests in flight on the three endpoints, and one endpoint's count of an error type. */
  const inflight = async (): Promise<number> => (await Promise.all(['slow', 'pwned', 'counter'].map((e) => viewOf(server, e)))).reduce((sum, v) => sum + v.inflight, 0);
  const errorsOfType = async (type: ErrorType, ...endpoints: string[]): Promise<number> =>
    (await Promise.all(endpoints.map((e) => viewOf(server, e)))).reduce((sum, v) => sum + v.errors[type], 0);

  it('1. garbage on a client inbox or in discovery answers deafens nobody', async () => {
    const base = client.stats().rejectedMessages;
    const from = seen.length;
    const victim = client.generate<number>({ n: 20, delayMs: 5 });
    const request = await nextSeen(from);
    // the 27 bytes that used to kill the client's inbox subscription
    evil.publish(request.reply, new Uint8Array(), { headers: rawBlock('NATS/1.0\r\nBad Key: x\r\n\r\n') });
    assert.deepEqual(await victim.collect(), Array.from({ length: 20 }, (_, i) => i));
    assert.equal(client.stats().rejectedMessages, base + 1);
    for (let k = 0; k < 6; k++) assert.deepEqual(await client.generate<number>({ n: 3 }).collect(), [0, 1, 2]);

    // discovery: every $SRV.INFO gets garbage, an empty answer and a redirect before the real one
    const answers = [
      { data: new Uint8Array(), headers: rawBlock('NATS/1.0\r\nBad Key: x\r\n\r\n') },
      { data: enc.encode('{"id":"x","endpoints":{}}') },
      { data: enc.encode('\xff not json') },
      {
        data: enc.encode(JSON.stringify({ type: 'io.nats.micro.v1.info_response', name: 'dynamo', id: 'evil', endpoints: [{ subject: slow.subject, metadata: { instance_subject: 'dynamo.evil.trap' } }] })),
      },
    ];
    const sub = evil.subscribe('$SRV.INFO.dynamo', {
      callback: (_err, msg: Msg) => {
        for (const a of answers) evil.publish(msg.reply!, a.data, a.headers === undefined ? {} : { headers: a.headers });
      },
    });
    await evil.flush();
    try {
      for (let round = 0; round < 20; round++) {
        assert.deepEqual(await client.refresh(), [{ instanceId: server.instanceId, subject: `${slow.subject}.${server.instanceId}` }], `round ${round}`);
      }
    } finally {
      sub.unsubscribe();
    }
  });

  it('2. a header bomb is refused before its headers are decoded; /live and other requests keep going', { timeout: 60_000 }, async () => {
    const before = await errorsOfType('invalid_message', 'slow');
    const names = Array.from({ length: 60_000 }, (_, i) => `X-Bomb-${i}: v`).join('\r\n');
    const bomb = rawBlock(`NATS/1.0\r\n${names}\r\n\r\n`);
    const port = server.systemPort!;
    const lives: Array<Promise<number>> = [];
    for (let k = 0; k < 5; k++) {
      // (unbounded, one such message blocked the event loop for about a minute)
      evil.publish(slow.subject, enc.encode('{"n":1}'), { reply: `_INBOX.bomb.${k}`, headers: bomb });
      lives.push(liveStatus(port));
    }
    await evil.flush();
    assert.deepEqual(await client.generate<number>({ n: 3 }).collect(), [0, 1, 2]);
    assert.deepEqual(await Promise.all(lives), [200, 200, 200, 200, 200]);
    await eventually(async () => ((await errorsOfType('invalid_message', 'slow')) === before + 5 ? true : undefined), 10_000, '5 bombs counted');

    // and at a client's inbox
    const from = seen.length;
    const victim = client.generate<number>({ n: 10, delayMs: 5 });
    evil.publish((await nextSeen(from)).reply, enc.encode('"PWNED"'), { headers: bomb });
    assert.deepEqual(await victim.collect(), Array.from({ length: 10 }, (_, i) => i));
  });

  it('3. a cancel needs the secret, which only the requester has; a real cancel gets a terminal message', async () => {
    const from = seen.length;
    const victim = client.generate<number>({ n: 50, delayMs: 2 });
    const request = await nextSeen(from);
    const tag = request.reply.slice(request.reply.lastIndexOf('.') + 1);
    for (const body of [request.requestId, request.key, tag, request.reply, randomUUID(), 'x'.repeat(5000)]) evil.publish('_DYN.CANCEL.ns.c.slow', body);
    assert.deepEqual(await victim.collect(), Array.from({ length: 50 }, (_, i) => i));

    // a requester that cancels with its secret is told at once, and the handler stops
    const raw = rawRequest(slow.subject, '{"n":100000,"delayMs":20}', { inbox: '_INBOX.canceller' });
    const kinds: string[] = [];
    evil.subscribe(raw.reply, { callback: (_e, msg) => void kinds.push(msg.headers?.get('Dynamo-Error-Type') || msg.headers!.get('Dynamo-Kind')) });
    evil.publish(slow.subject, raw.data, { reply: raw.reply, headers: raw.headers });
    await eventually(async () => (kinds.length >= 2 ? true : undefined), 5000, 'two data messages');
    evil.publish('_DYN.CANCEL.ns.c.slow', raw.secret);
    await eventually(async () => (kinds.at(-1) === 'cancelled' ? true : undefined), 5000, 'terminal cancelled message');
    await eventually(async () => ((await inflight()) === 0 ? true : undefined), 5000, 'in-flight back to 0');
    assert.ok(kinds.slice(0, -1).every((k) => k === 'data'));
  });

  it('4. an acknowledgement needs the key, and is clamped to what was sent', async () => {
    produced = 0;
    const raw = rawRequest(counter.subject, 'null', { inbox: '_INBOX.reader', window: 8 });
    const got: string[] = [];
    evil.subscribe(raw.reply, { callback: (_e, msg) => void got.push(msg.headers!.get('Dynamo-Kind')) });
    evil.publish(counter.subject, raw.data, { reply: raw.reply, headers: raw.headers });
    await eventually(async () => (got.length === 8 ? true : undefined), 5000, 'a window of 8');
    const control = `_DYN.CTL.ns.c.counter.${server.instanceId}`;
    const tag = raw.reply.slice(raw.reply.lastIndexOf('.') + 1);
    for (const body of [`${raw.requestId} 1e18`, `${raw.requestId} 999999999999999`, `${tag} 100000`, `${randomUUID()} 99`, `${raw.key} 1e18`, `${raw.key} -5`, `${raw.key}  8`]) evil.publish(control, body);
    // two round trips through the server after the forgeries: they have been processed
    for (let k = 0; k < 2; k++) assert.deepEqual(await client.generate<number>({ n: 1 }).collect(), [0]);
    const probe = rawRequest(pwned.subject, 'null', { inbox: '_INBOX.probe' });
    const probeDone = new Promise<void>((resolve) => {
      evil.subscribe(probe.reply, {
        callback: (_e, msg) => {
          if (msg.headers?.get('Dynamo-Kind') === 'end') resolve();
        },
      });
    });
    evil.publish(pwned.subject, probe.data, { reply: probe.reply, headers: probe.headers });
    await probeDone;
    assert.equal(got.length, 8, 'no forged acknowledgement opened the window');
    // the key, with an absurd count: opens exactly one more window, not 2,000 messages
    evil.publish(control, `${raw.key} 999999999999999`);
    await eventually(async () => (got.length === 16 ? true : undefined), 5000, 'one more window');
    evil.publish('_DYN.CANCEL.ns.c.counter', raw.secret);
    await eventually(async () => (got.at(-1) === 'error' ? true : undefined), 5000, 'terminal message');
    assert.deepEqual(got.slice(0, 16), Array<string>(16).fill('data'));
    assert.equal(got.length, 17);
    // 16 sent, the 17th pulled from the handler and waiting for credit when the cancel came
    assert.equal(produced, 17);
  });

  it('5. request ids are labels, not keys: squatting the next ids blocks nothing', async () => {
    const from = seen.length;
    await client.generate<number>({ n: 1 }).collect();
    const { requestId } = await nextSeen(from);
    const dash = requestId.lastIndexOf('-');
    const prefix = requestId.slice(0, dash);
    const n = parseInt(requestId.slice(dash + 1), 36);
    const squatters = Array.from({ length: 10 }, (_, k) => rawRequest(slow.subject, '{"n":1,"delayMs":3000}', { inbox: '_INBOX.squat', requestId: `${prefix}-${(n + 1 + k).toString(36)}` }));
    for (const s of squatters) evil.publish(slow.subject, s.data, { reply: s.reply, headers: s.headers });
    await eventually(async () => ((await viewOf(server, 'slow')).inflight === 10 ? true : undefined), 5000, 'squatters in flight');
    const results = await Promise.all(Array.from({ length: 10 }, () => client.generate<number>({ n: 2 }).collect()));
    assert.deepEqual(results, Array<number[]>(10).fill([0, 1]));
    for (const s of squatters) evil.publish('_DYN.CANCEL.ns.c.slow', s.secret);
    await eventually(async () => ((await inflight()) === 0 ? true : undefined), 5000, 'in-flight back to 0');
  });

  it('6. the server never answers onto the request plane or system subjects, nor onto another requester\'s stream', async () => {
    const traps = ['dynamo.ns.c.slow', `dynamo.ns.c.slow.${server.instanceId}`, '_DYN.CANCEL.ns.c.slow', `_DYN.CTL.ns.c.slow.${server.instanceId}`, '$SRV.PING', '$SRV.INFO.dynamo', '_DYN.x'];
    const answered: string[] = [];
    const subs = traps.map((t) => evil.subscribe(t, { callback: (_e, msg) => void (msg.headers?.get('Dynamo-Kind') && answered.push(t)) }));
    const before = await errorsOfType('response_stream', 'slow');
    for (const trap of traps) {
      const r = rawRequest(slow.subject, '{"n":3}');
      evil.publish(slow.subject, r.data, { reply: `${trap}.${r.tag}`, headers: r.headers });
      evil.publish(slow.subject, r.data, { reply: trap, headers: r.headers });
    }
    await eventually(async () => ((await errorsOfType('response_stream', 'slow')) === before + traps.length * 2 ? true : undefined), 5000, 'each refused as response_stream');
    for (const s of subs) s.unsubscribe();
    assert.deepEqual(answered, []);

    // three victims stream; the attacker aims requests of its own — to this and another endpoint,
    // with its own key and with the victim's — at their reply subjects
    const victims = await Promise.all([0, 1, 2].map(() => callerRt.namespace('ns').component('c').endpoint('slow').client({ timeoutMs: 15_000 })));
    const from = seen.length;
    const streams = victims.map((v) => v.generate<number>({ n: 300, delayMs: 1 }).collect());
    const requests = await Promise.all([0, 1, 2].map((k) => nextSeen(from + k, `victim ${k}`)));
    const invalid = await errorsOfType('invalid_message', 'slow', 'pwned');
    // (the three victims share one client — one runtime, one endpoint, the same options — which
    // may have dropped messages of earlier tests: count from here)
    const clients = [...new Set(victims)];
    const dropped = () => clients.reduce((s, v) => s + v.stats().rejectedMessages + v.stats().unmatchedMessages, 0);
    const droppedBefore = dropped();
    let aimed = 0;
    for (const victim of requests) {
      for (let k = 0; k < 20; k++) {
        const own = rawRequest(k % 2 === 0 ? pwned.subject : slow.subject, '{"n":300}');
        const h = headers();
        for (const [name, value] of [['Dynamo-Protocol', '2'], ['Dynamo-Request-Id', `aim-${k}`], ['Dynamo-Content-Type', 'application/json'], ['Dynamo-Key', k % 4 < 2 ? own.key : victim.key]] as const) h.set(name, value);
        evil.publish(k % 2 === 0 ? pwned.subject : slow.subject, own.data, { reply: victim.reply, headers: h });
        aimed++;
      }
    }
    const results = await Promise.all(streams);
    for (const r of results) assert.deepEqual(r, Array.from({ length: 300 }, (_, i) => i));
    await eventually(
      async () => ((await errorsOfType('invalid_message', 'slow', 'pwned')) === invalid + aimed ? true : undefined),
      5000,
      'each aimed request refused as invalid_message',
    );
    // every refusal was answered without naming the instance, and each victim dropped it
    await eventually(async () => (dropped() - droppedBefore === aimed ? true : undefined), 5000, 'refusals dropped');
    for (const v of victims) await v.close();
  });

  it('7. a spoofed stream never reaches the victim: not from another endpoint, not with an edited body, not as a replay', async () => {
    const from = seen.length;
    const victim = client.generate<number>({ n: 3, delayMs: 300 });
    const request = await nextSeen(from);
    const with_ = (key: string): MsgHdrs => {
      const h = headers();
      h.set('Dynamo-Protocol', '2');
      h.set('Dynamo-Request-Id', request.requestId);
      h.set('Dynamo-Key', key);
      h.set('Dynamo-Content-Type', 'application/json');
      return h;
    };
    const invalid = (): Promise<number> => errorsOfType('invalid_message', 'slow', 'pwned');
    const before = await invalid();
    evil.publish(pwned.subject, enc.encode('null'), { reply: request.reply, headers: with_(request.key) }); // another endpoint
    evil.publish(slow.subject, enc.encode('{"n":5}'), { reply: request.reply, headers: with_(request.key) }); // edited body
    evil.publish(`${slow.subject}.${server.instanceId}`, request.data, { reply: request.reply, headers: with_(request.key) }); // replay while in flight
    await eventually(async () => ((await invalid()) === before + 3 ? true : undefined), 5000, 'three refusals');
    assert.deepEqual(await victim.collect(), [0, 1, 2]);
  });

  it('8. a stream cut short by an injected message tells the server at once', async () => {
    const from = seen.length;
    const victim = client.generate<number>({ n: 1000, delayMs: 10 });
    const request = await nextSeen(from);
    const first = await victim.next();
    assert.deepEqual(first, { value: 0, done: false });
    // the one forgery the protocol cannot tell from the instance's own: an end message naming it
    const h = headers();
    h.set('Dynamo-Protocol', '2');
    h.set('Dynamo-Instance', server.instanceId);
    h.set('Dynamo-Kind', 'end');
    evil.publish(request.reply, enc.encode('{"count":999}'), { headers: h });
    await assert.rejects(victim.collect(), (err: unknown) => (err as { code?: string }).code === ErrorCode.StreamCutShort);
    // the client cancelled: the handler stops well before its 10 s of pieces or the 60 s stall timeout
    await eventually(async () => ((await inflight()) === 0 ? true : undefined), 5000, 'in-flight back to 0');
  });
});
