import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, MsgHdrsImpl, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { rawHeaderBlock } from '../../src/transport/message-headers.ts';
import { wireBytes, type WireBody } from '../../src/transport/codec.ts';
import { EncodedHeaders, NatsWire } from '../../src/transport/nats-wire.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { rng } from '../helpers/rng.ts';
import { waitFor } from '../helpers/wait.ts';

/** What a subscriber can tell of a message: its subject, its raw header block, its payload. */
type Seen = [subject: string, header: string, data: string];

interface Message {
  subject: string;
  header: Uint8Array | undefined;
  body: WireBody;
}

/** A body's bytes on the wire: a plain string between quotes, written here by hand. */
const hex = (body: WireBody): string => (typeof body === 'string' ? Buffer.from(`"${body}"`, 'latin1') : Buffer.from(body)).toString('hex');
const expected = (list: readonly Message[]): Seen[] => list.map((m): Seen => [m.subject, hex(m.header ?? new Uint8Array(0)), hex(m.body)]);
const viaPublish = (nc: NatsConnection, m: Message): void => nc.publish(m.subject, wireBytes(m.body), m.header === undefined ? undefined : { headers: new EncodedHeaders(m.header) });

function seen(msg: Msg): Seen {
  const header = rawHeaderBlock(msg);
  assert.notEqual(header, null, 'this nats.js exposes the raw header block');
  return [msg.subject, Buffer.from(header ?? new Uint8Array(0)).toString('hex'), Buffer.from(msg.data).toString('hex')];
}

async function collector(nc: NatsConnection, subject: string): Promise<Seen[]> {
  const got: Seen[] = [];
  nc.subscribe(subject, {
    callback: (_err, msg) => {
      got.push(seen(msg));
    },
  });
  await nc.flush();
  return got;
}

/**
 * Seeded messages: subjects of every kind of token (non-ASCII too), blocks or none, bytes or
 * ASCII text, sizes across digit counts — up to over a quarter of a slab (a buffer of its own).
 */
function messages(seed: number, count: number): Message[] {
  const random = rng(seed);
  const pick = <T>(of: readonly T[]): T => of[Math.floor(random() * of.length)]!;
  const subjects = ['wire.a', 'wire._INBOX.4n7Yc2.Kq9dZr3vTx1bNw0aHe5u', 'wire.é.ü.tag', `wire.${'x'.repeat(200)}`, 'wire.日本.語'];
  const sizes = [0, 1, 9, 10, 99, 100, 101, 999, 1000, 9999, 10_000, 65_537];
  return Array.from({ length: count }, () => {
    let header: Uint8Array | undefined;
    if (random() < 0.8) {
      const h = new MsgHdrsImpl();
      for (let i = 0, n = 1 + Math.floor(random() * 5); i < n; i++) h.append(`Name-${Math.floor(random() * 3)}`, `value ${Math.floor(random() * 1e6)}`);
      header = h.encode();
    }
    const bytes = Buffer.alloc(pick(sizes));
    const text = random() < 0.3;
    for (let i = 0; i < bytes.length; i++) bytes[i] = text ? 0x20 + Math.floor(random() * 0x60) : Math.floor(random() * 256);
    return { subject: pick(subjects), header, body: text ? bytes.toString('latin1') : bytes };
  });
}

describe('NatsWire: messages written as NATS protocol onto the connection', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let reader: NatsConnection;

  before(async () => {
    nats = await startNatsServer({ maxPayload: 128 * 1024 });
    nc = await connect({ servers: nats.url });
    reader = await connect({ servers: nats.url });
  });
  after(async () => {
    await nc.close();
    await reader.close();
    await nats.stop();
  });

  it('writes them directly with the nats.js this package installs', () => {
    assert.equal(new NatsWire(nc).direct, true);
  });

  it('delivers byte for byte what nc.publish delivers, in order, one by one and in batches', async () => {
    const wire = new NatsWire(nc);
    const list = messages(16, 400);
    const got = await collector(reader, 'wire.>');
    for (const m of list) viaPublish(nc, m);
    await nc.flush();
    const stats = nc.stats();
    // Single messages, then batches of 1 to 40 queued, a single message now and then between them.
    const random = rng(7);
    for (let i = 0; i < list.length; ) {
      const m = list[i++]!;
      if (i <= 50 || random() < 0.1) wire.publish(m.subject, m.header, m.body);
      else wire.queue(m.subject, m.header, m.body);
      if (random() < 0.05) {
        wire.flush();
        assert.equal(wire.queued, false);
      }
    }
    wire.flush();
    await nc.flush();
    await waitFor(() => got.length, { what: 'both rounds delivered', until: (n) => n >= 2 * list.length });
    assert.equal(got.length, 2 * list.length);
    assert.deepEqual(got.slice(list.length), got.slice(0, list.length));
    assert.deepEqual(got.slice(0, list.length), expected(list));
    // nats.js's counters move as its own publish moves them.
    const after = nc.stats();
    assert.equal(after.outMsgs - stats.outMsgs, list.length);
    assert.equal(after.outBytes - stats.outBytes, list.reduce((sum, m) => sum + wireBytes(m.body).length + (m.header?.length ?? 0), 0));
  });

  it('holds queued messages until flushed', async () => {
    const wire = new NatsWire(nc);
    const got = await collector(reader, 'held.>');
    wire.queue('held.a', undefined, 'one');
    wire.queue('held.a', undefined, 'two');
    assert.equal(wire.queued, true);
    // A round trip to the server: whatever had been handed to nats.js is delivered before it ends.
    await nc.flush();
    await reader.flush();
    assert.deepEqual(got, []);
    wire.flush();
    assert.equal(wire.queued, false);
    await nc.flush();
    await waitFor(() => got.length, { what: 'both messages', until: (n) => n >= 2 });
    assert.deepEqual(got, expected([{ subject: 'held.a', header: undefined, body: 'one' }, { subject: 'held.a', header: undefined, body: 'two' }]));
  });

  it('publishes through nc.publish, the same bytes, on a nats.js that does not expose its queue', async () => {
    // The real connection, with only its protocol handler out of sight (a nats.js that moved it).
    const hidden = new Proxy(nc, {
      get: (target, name) => {
        if (name === 'protocol') return undefined;
        const value: unknown = Reflect.get(target, name);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const wire = new NatsWire(hidden);
    assert.equal(wire.direct, false);
    const list = messages(61, 60).map((m) => ({ ...m, subject: m.subject.replace(/^wire\./, 'fallback.') }));
    const got = await collector(reader, 'fallback.>');
    const stats = nc.stats();
    for (const m of list.slice(0, 10)) wire.publish(m.subject, m.header, m.body);
    for (const m of list.slice(10)) wire.queue(m.subject, m.header, m.body);
    assert.equal(wire.queued, true);
    wire.flush();
    await nc.flush();
    await waitFor(() => got.length, { what: 'every message delivered', until: (n) => n >= list.length });
    assert.deepEqual(got, expected(list));
    assert.equal(nc.stats().outMsgs - stats.outMsgs, list.length);
  });

  it('publishes to any number of subjects in batches, whatever it keeps encoded', async () => {
    const wire = new NatsWire(nc);
    const got = await collector(reader, 'many.>');
    const list: Message[] = Array.from({ length: 700 }, (_, i) => ({ subject: `many.s${i % 350}.é`, header: undefined, body: `${i}` }));
    for (let i = 0; i < list.length; i += 50) {
      for (const m of list.slice(i, i + 50)) wire.queue(m.subject, m.header, m.body);
      wire.flush();
    }
    await nc.flush();
    await waitFor(() => got.length, { what: 'every message delivered', until: (n) => n >= list.length });
    assert.deepEqual(got, expected(list));
  });

  it('refuses, before writing anything, a subject that would end or split the command line', async () => {
    const wire = new NatsWire(nc);
    const got = await collector(reader, 'refused.>');
    const data = Buffer.from('x');
    for (const subject of ['', 'refused.a b', 'refused.a\r\nPUB refused.injected 1\r\ny', 'refused.\ttab', 'refused.\x00', 'refused.\x7f']) {
      assert.throws(() => wire.publish(subject, undefined, data), /invalid subject/, JSON.stringify(subject));
      assert.throws(() => wire.queue(subject, undefined, data), /invalid subject/, JSON.stringify(subject));
    }
    assert.equal(wire.queued, false);
    wire.publish('refused.sentinel', undefined, data);
    await nc.flush();
    await waitFor(() => got.length, { what: 'the sentinel', until: (n) => n >= 1 });
    assert.deepEqual(got, [['refused.sentinel', '', '78']]);
  });

  it("refuses a message over the server's max_payload, headers and quotes included; takes one exactly at it", async () => {
    const wire = new NatsWire(nc);
    const max = nc.info!.max_payload;
    assert.equal(max, 128 * 1024);
    const header = new MsgHdrsImpl();
    header.set('A', 'b');
    const block = header.encode();
    assert.throws(() => wire.publish('max.over', block, Buffer.alloc(max - block.length + 1)), new RegExp(`: ${max + 1} bytes with headers are over the NATS server's max_payload of ${max} bytes`));
    assert.throws(() => wire.queue('max.over', undefined, Buffer.alloc(max + 1)), /over the NATS server's max_payload/);
    assert.throws(() => wire.queue('max.over', undefined, 'x'.repeat(max - 1)), new RegExp(`: ${max + 1} bytes with headers are over`));
    assert.equal(wire.queued, false);
    const got = await collector(reader, 'max.>');
    wire.publish('max.at', block, Buffer.alloc(max - block.length));
    wire.queue('max.at', undefined, 'y'.repeat(max - 2));
    wire.flush();
    await nc.flush();
    await waitFor(() => got.length, { what: 'the messages at the limit', until: (n) => n >= 2 });
    assert.deepEqual(
      got.map(([subject, , data]) => [subject, data.length / 2]),
      [
        ['max.at', max - block.length],
        ['max.at', max],
      ],
    );
  });

  it('refuses to write on a closed connection, and drops what was queued before it closed', async () => {
    const closing = await connect({ servers: nats.url });
    const wire = new NatsWire(closing);
    const stats = closing.stats();
    wire.queue('closed.a', undefined, Buffer.from('x'));
    await closing.close();
    assert.throws(() => wire.flush(), /the NATS connection is closed/);
    assert.equal(wire.queued, false);
    assert.equal(closing.stats().outMsgs, stats.outMsgs);
    assert.throws(() => wire.publish('closed.a', undefined, Buffer.from('x')), /the NATS connection is closed/);
    assert.throws(() => wire.queue('closed.a', undefined, 'x'), /the NATS connection is closed/);
  });
});
