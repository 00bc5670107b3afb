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
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../logging/logger.ts';
import { NatsWire, type WireMessage } from './nats-wire.ts';

export class TurnOutbox {
  private readonly wire: NatsWire;
  private readonly logger: Logger;
  /** Messages waiting for the end of this turn, in order. */
  private queued: WireMessage[] = [];
  private readonly flushSoon = (): void => this.flush();

  constructor(nc: NatsConnection, logger: Logger) {
    this.wire = new NatsWire(nc);
    this.logger = logger;
  }

  /**
   * Publishes now, or — when `wait`, or while messages wait — queues it for the end of this turn,
   * after the checks nats.js's publish makes (connection, subject, size), so a message that cannot
   * go fails here, with the caller, as a direct publish would. `header`: the encoded header block;
   * `data`: as `WireMessage` takes it.
   */
  publish(subject: string, header: Uint8Array | undefined, data: Uint8Array | string, wait: boolean): void {
    if (!wait && this.queued.length === 0) return this.wire.publish(subject, header, data);
    const subjectBytes = this.wire.checkQueued(subject, header, data);
    if (this.queued.length === 0) setImmediate(this.flushSoon);
    this.queued.push({ subject, header, data, subjectBytes });
  }

  /** Hands every waiting message to nats.js, in order: at the end of each turn, and when asked (a stopping endpoint). */
  flush(): void {
    const batch = this.queued;
    if (batch.length === 0) return;
    this.queued = [];
    try {
      this.wire.publishChecked(batch);
    } catch (err) {
      // Checked when queued: only a connection lost within this turn gets here, and then the
      // requesters see their streams cut short.
      this.logger.debug('queued messages not published', { count: batch.length, error: err });
    }
  }
}
