import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, headers, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { rawHeaderBlock, readHeaders } from '../../src/transport/message-headers.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';

const enc = new TextEncoder();
const rawBlock = (text: string): MsgHdrs => ({ encode: () => enc.encode(text) }) as unknown as MsgHdrs;

describe('readHeaders on messages from a real nats-server', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  const received: Msg[] = [];
  let waiting: (() => void) | undefined;

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    nc.subscribe('t', {
      callback: (_err, msg) => {
        received.push(msg);
        waiting?.();
      },
    });
    await nc.flush();
  });
  after(async () => {
    await nc.close();
    await nats.stop();
  });

  async function roundTrip(h?: MsgHdrs): Promise<Msg> {
    const arrived = new Promise<void>((resolve) => (waiting = resolve));
    nc.publish('t', 'body', h === undefined ? {} : { headers: h });
    await arrived;
    return received.at(-1)!;
  }

  it('sees the raw block of this nats.js (if nats.js stops exposing it, this fails loudly)', async () => {
    const h = headers();
    h.set('A', 'b');
    const msg = await roundTrip(h);
    const block = rawHeaderBlock(msg);
    assert.ok(block instanceof Uint8Array);
    assert.equal(new TextDecoder().decode(block!), 'NATS/1.0\r\nA: b\r\n\r\n');
    assert.equal(rawHeaderBlock(await roundTrip()), undefined);
  });

  it('reads normal headers, refuses oversized or over-long blocks before decoding, never throws', async () => {
    const h = headers();
    h.set('Dynamo-Protocol', '2');
    const good = readHeaders(await roundTrip(h));
    assert.equal(good.ok && good.headers?.get('Dynamo-Protocol'), '2');
    assert.deepEqual(readHeaders(await roundTrip()), { ok: true, headers: undefined });

    const many = readHeaders(await roundTrip(rawBlock(`NATS/1.0\r\n${Array.from({ length: 65 }, (_, i) => `X-${i}: v`).join('\r\n')}\r\n\r\n`)));
    assert.deepEqual(many, { ok: false, reason: 'header block of 65 lines is over the 64-entry limit' });
    const sixtyFour = readHeaders(await roundTrip(rawBlock(`NATS/1.0\r\n${Array.from({ length: 64 }, (_, i) => `X-${i}: v`).join('\r\n')}\r\n\r\n`)));
    assert.equal(sixtyFour.ok && sixtyFour.headers?.keys().length, 64);

    const big = readHeaders(await roundTrip(rawBlock(`NATS/1.0\r\nX: ${'v'.repeat(17_000)}\r\n\r\n`)));
    assert.equal(big.ok, false);
    assert.match(!big.ok ? big.reason : '', /over the 16384-byte limit/);

    const bad = readHeaders(await roundTrip(rawBlock('NATS/1.0\r\nBad Key: x\r\n\r\n')));
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.reason : '', /^malformed header block/);
  });
});
