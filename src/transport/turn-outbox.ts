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
import type { WireBody } from './codec.ts';
import { NatsWire } from './nats-wire.ts';

export class TurnOutbox {
  private readonly wire: NatsWire;
  private readonly logger: Logger;
  private readonly flushSoon = (): void => this.flush();

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
    if (!this.wire.queued) {
      if (!wait) return this.wire.publish(subject, header, body);
      this.wire.queue(subject, header, body);
      setImmediate(this.flushSoon);
      return;
    }
    this.wire.queue(subject, header, body);
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
}
