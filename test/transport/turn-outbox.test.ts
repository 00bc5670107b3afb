import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createLogger } from '../../src/logging/logger.ts';
import { TurnOutbox } from '../../src/transport/turn-outbox.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { waitFor } from '../helpers/wait.ts';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Holds the thread until the clock has moved `ms` past `from`: a later reading differs from a kept one. */
const spinPast = (from: number, ms: number): void => {
  while (performance.now() < from + ms);
};

describe('TurnOutbox: the clock its messages are timed by', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let reader: NatsConnection;
  let received: string[];

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    reader = await connect({ servers: nats.url });
    received = [];
    reader.subscribe('outbox.>', { callback: (_err, msg) => void received.push(`${msg.subject}:${msg.data.length}`) });
    await reader.flush();
  });

  /** A new outbox, and nothing received yet. */
  const freshOutbox = (): TurnOutbox => {
    received = [];
    return new TurnOutbox(nc, createLogger('warn', () => {}));
  };

  after(async () => {
    await reader.close();
    await nc.close();
    await nats.stop();
  });

  it('a batch shares the reading taken for it, until the turn ends and its messages leave', async () => {
    const outbox = freshOutbox();
    outbox.publish('outbox.a', undefined, 'one', true);
    const first = outbox.now();
    spinPast(first, 2);
    outbox.publish('outbox.a', undefined, 'two', true);
    assert.equal(outbox.batchTime(), first);
    // A later reading (a request's first response) becomes the batch's time.
    const later = outbox.now();
    assert.ok(later >= first + 2);
    assert.equal(outbox.batchTime(), later);
    await nextTurn();
    await waitFor(async () => received.length, { what: 'the batch delivered', until: (n) => n === 2 });
    assert.deepEqual(received, ['outbox.a:5', 'outbox.a:5']);
    // The batch left: the next message of another turn reads the clock again.
    spinPast(later, 2);
    outbox.publish('outbox.a', undefined, 'three', true);
    const next = outbox.batchTime();
    assert.ok(next >= later + 2, `${next} is a new reading, after ${later}`);
    assert.equal(outbox.batchTime(), next);
    await waitFor(async () => received.length, { what: 'the next batch delivered', until: (n) => n === 3 });
    assert.deepEqual(received, ['outbox.a:5', 'outbox.a:5', 'outbox.a:7']);
  });

  it('a reading taken while nothing waits is kept for no batch', async () => {
    const outbox = freshOutbox();
    // Published at once: no batch, so nothing ends one at the end of the turn.
    outbox.publish('outbox.b', undefined, 'now', false);
    const reading = outbox.now();
    spinPast(reading, 2);
    assert.ok(outbox.batchTime() >= reading + 2);
    await waitFor(async () => received.length, { what: 'the message delivered', until: (n) => n === 1 });
    assert.deepEqual(received, ['outbox.b:5']);
  });

  it('a message too large for the batch buffer, handed over at once, still opens a batch that ends with the turn', async () => {
    const outbox = freshOutbox();
    const large = new Uint8Array(200 * 1024);
    outbox.publish('outbox.c', undefined, large, true);
    const reading = outbox.now();
    spinPast(reading, 2);
    assert.equal(outbox.batchTime(), reading);
    await nextTurn();
    spinPast(reading, 4);
    assert.ok(outbox.batchTime() >= reading + 4);
    await waitFor(async () => received.length, { what: 'the large message delivered', until: (n) => n === 1 });
    assert.deepEqual(received, [`outbox.c:${200 * 1024}`]);
  });
});
