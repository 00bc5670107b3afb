/**
 * Publishes on a NATS connection at the end of the current turn of the event loop, in order.
 *
 * nats.js writes to its socket what it was given before its next microtask checkpoint. A stream's
 * responses come at least one microtask hop apart (each is a step of the handler's generator), so
 * each, published at once, is a socket write — and a message for nats-server to route — of its
 * own: the largest cost of a stream whose handler yields faster than the network
 * (docs/benchmarks.md, "The request plane's cost"). Queued here, a turn's messages go to nats.js
 * together and leave in one write. What is not worth waiting for goes out at once — unless
 * something waits, then behind it: the order of messages is kept.
 */
import type { NatsConnection, PublishOptions } from '@nats-io/transport-node';
import type { Logger } from '../logging/logger.ts';

interface Queued {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly options: PublishOptions;
}

export class TurnOutbox {
  private readonly nc: NatsConnection;
  private readonly logger: Logger;
  /** Messages waiting for the end of this turn, in order. */
  private queued: Queued[] = [];
  private readonly flushSoon = (): void => this.flush();

  constructor(nc: NatsConnection, logger: Logger) {
    this.nc = nc;
    this.logger = logger;
  }

  /**
   * Publishes now, or — when `wait`, or while messages wait — queues it for the end of this turn,
   * after the checks nats.js's publish makes (connection, size), so a message that cannot go fails
   * here, with the caller, as a direct publish would.
   */
  publish(subject: string, data: Uint8Array, options: PublishOptions, wait: boolean): void {
    if (!wait && this.queued.length === 0) {
      this.nc.publish(subject, data, options);
      return;
    }
    if (this.nc.isClosed()) throw new Error('the NATS connection is closed');
    const max = this.nc.info?.max_payload;
    const size = data.length + ((options.headers as { encode(): Uint8Array } | undefined)?.encode().length ?? 0);
    if (max !== undefined && size > max) throw new Error(`${size} bytes with headers are over the NATS server's max_payload of ${max} bytes`);
    if (this.queued.length === 0) setImmediate(this.flushSoon);
    this.queued.push({ subject, data, options });
  }

  /** Hands every waiting message to nats.js, in order: at the end of each turn, and when asked (a stopping endpoint). */
  flush(): void {
    const batch = this.queued;
    if (batch.length === 0) return;
    this.queued = [];
    for (const { subject, data, options } of batch) {
      try {
        this.nc.publish(subject, data, options);
      } catch (err) {
        // Checked when queued: only a connection lost within this turn gets here, and then the
        // requesters see their streams cut short.
        this.logger.debug('queued message not published', { subject, error: err });
      }
    }
  }
}
