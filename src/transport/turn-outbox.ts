/**
 * Publishes on a NATS connection at the end of the current turn of the event loop, in order.
 *
 * nats.js writes to its socket what it was given before its next microtask checkpoint. A stream's
 * responses come at least one microtask hop apart (each is a step of the handler's generator), so
 * each, published at once, is a socket write — and a message for nats-server to route — of its
 * own: the largest cost of a stream whose handler yields faster than the network
 * (docs/benchmarks.md, "The request plane's cost"). Queued here, a turn's messages are written
 * together, as one buffer of protocol (nats-wire.ts), and leave in one write. What is not worth
 * waiting for goes out at once — unless something waits, then behind it: the order of messages is
 * kept.
 *
 * The outbox is also the clock the metrics time published messages by (`PublishClock`): the
 * messages of one batch leave together, so they share one reading of the clock, taken for the
 * first of them (or later, when a request's first response reads it again), and the batch's later
 * messages cost no clock read.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../logging/logger.ts';
import type { PublishClock } from '../metrics/endpoint-recorder.ts';
import type { WireBody } from './codec.ts';
import { NatsWire } from './nats-wire.ts';

/** `batchReading` when the batch being queued has no reading yet. */
const UNREAD = -1;

export class TurnOutbox implements PublishClock {
  private readonly wire: NatsWire;
  private readonly logger: Logger;
  /**
   * Whether a flush is scheduled for the end of this turn. Invariant: while messages are queued,
   * it is; and while `batchReading` holds a reading, it is — a reading never outlives its batch.
   */
  private scheduled = false;
  /** The latest clock reading taken while the batch was queued, else `UNREAD`. */
  private batchReading = UNREAD;
  private readonly flushSoon = (): void => {
    this.scheduled = false;
    this.batchReading = UNREAD;
    this.flush();
  };

  constructor(nc: NatsConnection, logger: Logger) {
    this.wire = new NatsWire(nc);
    this.logger = logger;
  }

  /**
   * Publishes now, or — when `wait`, or while messages wait — queues it for the end of this turn,
   * after the checks nats.js's publish makes (connection, subject, size), so a message that cannot
   * go fails here, with the caller, as a direct publish would. `header`: the encoded header block.
   */
  publish(subject: string, header: Uint8Array | undefined, body: WireBody, wait: boolean): void {
    if (!wait && !this.wire.queued) return this.wire.publish(subject, header, body);
    this.wire.queue(subject, header, body);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushSoon);
  }

  /** Hands every waiting message to nats.js, in order: at the end of each turn, and when asked (a stopping endpoint). */
  flush(): void {
    try {
      this.wire.flush();
    } catch (err) {
      // Checked when queued: only a connection lost within this turn gets here, and then the
      // requesters see their streams cut short.
      this.logger.debug('queued messages not published', { error: err });
    }
  }

  now(): number {
    const t = performance.now();
    if (this.scheduled) this.batchReading = t;
    return t;
  }

  batchTime(): number {
    return this.batchReading === UNREAD ? this.now() : this.batchReading;
  }
}
