import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, MsgHdrsImpl, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { rawHeaderBlock } from '../../src/transport/message-headers.ts';
import { EncodedHeaders, NatsWire, type WireMessage } from '../../src/transport/nats-wire.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { rng } from '../helpers/rng.ts';
import { waitFor } from '../helpers/wait.ts';

/** What a subscriber can tell of a message: its subject, its raw header block, its payload. */
type Seen = [subject: string, header: string, data: string];

const hex = (data: Uint8Array | string): string => (typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data)).toString('hex');

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

/** Seeded messages: subjects of every kind of token (non-ASCII too), blocks or none, bytes or ASCII text, sizes across digit counts. */
function messages(seed: number, count: number): WireMessage[] {
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
    return { subject: pick(subjects), header, data: text ? bytes.toString('latin1') : bytes };
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
    for (const m of list) nc.publish(m.subject, typeof m.data === 'string' ? Buffer.from(m.data, 'latin1') : m.data, m.header === undefined ? undefined : { headers: new EncodedHeaders(m.header) });
    await nc.flush();
    const stats = nc.stats();
    // Direct: single messages, then batches of 1 to 40.
    const random = rng(7);
    for (let i = 0; i < list.length; ) {
      if (i < 50) {
        const m = list[i++]!;
        wire.publish(m.subject, m.header, m.data);
        continue;
      }
      // queued as the outbox queues them (with the subject's encoding), or checked one by one
      const queued = random() < 0.5;
      const batch = list.slice(i, i + 1 + Math.floor(random() * 40)).map((m) => {
        if (queued) return { ...m, subjectBytes: wire.checkQueued(m.subject, m.header, m.data) };
        wire.check(m.subject, m.header, m.data);
        return m;
      });
      wire.publishChecked(batch);
      i += batch.length;
    }
    await nc.flush();
    await waitFor(() => got.length, { what: 'both rounds delivered', until: (n) => n >= 2 * list.length });
    assert.equal(got.length, 2 * list.length);
    assert.deepEqual(got.slice(list.length), got.slice(0, list.length));
    assert.deepEqual(got.slice(0, list.length), list.map((m): Seen => [m.subject, hex(m.header ?? new Uint8Array(0)), hex(m.data)]));
    // nats.js's counters move as its own publish moves them.
    const after = nc.stats();
    assert.equal(after.outMsgs - stats.outMsgs, list.length);
    assert.equal(after.outBytes - stats.outBytes, list.reduce((sum, m) => sum + m.data.length + (m.header?.length ?? 0), 0));
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
    for (const m of list.slice(0, 10)) wire.publish(m.subject, m.header, m.data);
    for (const m of list.slice(10)) wire.check(m.subject, m.header, m.data);
    wire.publishChecked(list.slice(10));
    await nc.flush();
    await waitFor(() => got.length, { what: 'every message delivered', until: (n) => n >= list.length });
    assert.deepEqual(got, list.map((m): Seen => [m.subject, hex(m.header ?? new Uint8Array(0)), hex(m.data)]));
    assert.equal(nc.stats().outMsgs - stats.outMsgs, list.length);
  });

  it('publishes to any number of subjects in batches, whatever it keeps encoded', async () => {
    const wire = new NatsWire(nc);
    const got = await collector(reader, 'many.>');
    const list: WireMessage[] = Array.from({ length: 700 }, (_, i) => ({ subject: `many.s${i % 350}.é`, header: undefined, data: `"${i}"` }));
    for (let i = 0; i < list.length; i += 50) {
      const batch = list.slice(i, i + 50).map((m) => ({ ...m, subjectBytes: wire.checkQueued(m.subject, m.header, m.data) }));
      wire.publishChecked(batch);
    }
    await nc.flush();
    await waitFor(() => got.length, { what: 'every message delivered', until: (n) => n >= list.length });
    assert.deepEqual(got, list.map((m): Seen => [m.subject, '', hex(m.data)]));
  });

  it('refuses, before writing anything, a subject that would end or split the command line', async () => {
    const wire = new NatsWire(nc);
    const got = await collector(reader, 'refused.>');
    const data = Buffer.from('x');
    for (const subject of ['', 'refused.a b', 'refused.a\r\nPUB refused.injected 1\r\ny', 'refused.\ttab', 'refused.\x00', 'refused.\x7f']) {
      assert.throws(() => wire.publish(subject, undefined, data), /invalid subject/, JSON.stringify(subject));
      assert.throws(() => wire.check(subject, undefined, data), /invalid subject/, JSON.stringify(subject));
      assert.throws(() => wire.checkQueued(subject, undefined, data), /invalid subject/, JSON.stringify(subject));
    }
    wire.publish('refused.sentinel', undefined, data);
    await nc.flush();
    await waitFor(() => got.length, { what: 'the sentinel', until: (n) => n >= 1 });
    assert.deepEqual(got, [['refused.sentinel', '', '78']]);
  });

  it("refuses a message over the server's max_payload, headers included; takes one exactly at it", async () => {
    const wire = new NatsWire(nc);
    const max = nc.info!.max_payload;
    assert.equal(max, 128 * 1024);
    const header = new MsgHdrsImpl();
    header.set('A', 'b');
    const block = header.encode();
    assert.throws(() => wire.publish('max.over', block, Buffer.alloc(max - block.length + 1)), new RegExp(`: ${max + 1} bytes with headers are over the NATS server's max_payload of ${max} bytes`));
    assert.throws(() => wire.check('max.over', undefined, Buffer.alloc(max + 1)), /over the NATS server's max_payload/);
    const got = await collector(reader, 'max.>');
    wire.publish('max.at', block, Buffer.alloc(max - block.length));
    await nc.flush();
    await waitFor(() => got.length, { what: 'the message at the limit', until: (n) => n >= 1 });
    assert.equal(got.length, 1);
    assert.equal(got[0]![0], 'max.at');
    assert.equal(got[0]![2].length / 2, max - block.length);
  });

  it('refuses to write on a closed connection, checked or not', async () => {
    const closing = await connect({ servers: nats.url });
    const wire = new NatsWire(closing);
    const m: WireMessage = { subject: 'closed.a', header: undefined, data: Buffer.from('x') };
    wire.check(m.subject, m.header, m.data);
    await closing.close();
    assert.throws(() => wire.publish(m.subject, m.header, m.data), /the NATS connection is closed/);
    assert.throws(() => wire.publishChecked([m]), /the NATS connection is closed/);
  });
});
