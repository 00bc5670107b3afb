/**
 * The runtime's NATS connection: connects to `NATS_SERVER` (or the given servers), fails start
 * with an error naming the URLs when none is reachable, then reconnects by itself forever and
 * reports its state for /health.
 */
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { DynamoError, ErrorCode } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { InstanceDirectory } from './instance-directory.ts';

/** Passed through to `@nats-io/transport-node`'s `connect()` (credentials, token, TLS, …). `servers` comes from `NATS_SERVER` unless given here. */
export type NatsOptions = Partial<NodeConnectionOptions>;

export type ConnectionListener = (connected: boolean) => void;

export class NatsTransport {
  readonly nc: NatsConnection;
  /** The connection's inbox prefix (`inboxPrefix` option, default `_INBOX`): clients put their reply subjects under it. */
  readonly inboxPrefix: string;
  private state = true;
  private readonly listeners = new Set<ConnectionListener>();
  /** One directory per endpoint, shared by every client of it on this connection. */
  private readonly directories = new Map<string, InstanceDirectory>();
  private readonly logger: Logger;

  private constructor(nc: NatsConnection, logger: Logger, inboxPrefix: string) {
    this.nc = nc;
    this.inboxPrefix = inboxPrefix;
    this.logger = logger;
    void this.watch();
  }

  static async connect(servers: string[], options: NatsOptions, logger: Logger, name: string): Promise<NatsTransport> {
    const wanted = options.servers ?? servers;
    try {
      const nc = await connect({
        name,
        // The client otherwise builds two Error objects per request just for async stack traces.
        noAsyncTraces: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: 5_000,
        ...options,
        servers: wanted,
      });
      logger.info('connected to NATS', { server: nc.getServer() });
      return new NatsTransport(nc, logger, options.inboxPrefix ?? '_INBOX');
    } catch (err) {
      const list = Array.isArray(wanted) ? wanted.join(', ') : String(wanted);
      throw new DynamoError(
        ErrorCode.NatsConnect,
        `cannot connect to NATS at ${list}: ${(err as Error).message}. Start a nats-server there or set NATS_SERVER`,
        { cause: err },
      );
    }
  }

  /** Whether the connection is up (false while reconnecting). */
  get connected(): boolean {
    return this.state;
  }

  /** The instances of the endpoint at `subject`, as this runtime knows them. */
  directory(subject: string, windowMs?: number): InstanceDirectory {
    let directory = this.directories.get(subject);
    if (directory === undefined) {
      directory = new InstanceDirectory({ nc: this.nc, subject, inboxPrefix: this.inboxPrefix, logger: this.logger, ...(windowMs === undefined ? {} : { windowMs }) });
      this.directories.set(subject, directory);
    }
    return directory;
  }

  onConnectionChange(listener: ConnectionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      switch (s.type) {
        case 'disconnect':
          this.set(false);
          this.logger.warn('NATS connection lost; reconnecting', { server: s.server });
          break;
        case 'reconnect':
          this.set(true);
          this.logger.info('NATS connection restored', { server: s.server });
          break;
        case 'error':
          this.logger.warn('NATS error', { error: s.error });
          break;
        case 'slowConsumer':
          this.logger.warn('NATS slow consumer: messages dropped', { subject: s.sub.getSubject(), pending: s.pending });
          break;
        default:
          this.logger.debug('NATS status', { type: s.type });
      }
    }
  }

  private set(connected: boolean): void {
    if (this.state === connected) return;
    this.state = connected;
    for (const l of this.listeners) l(connected);
  }

  /** Flushes what is buffered and closes. */
  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close();
    }
    this.set(false);
  }
}

/**
 * Waits until the server has seen what was sent (new subscriptions). While the connection is
 * reconnecting that wait is cut by the client's reconnect logic; the subscriptions are replayed
 * on reconnect anyway, so only a closed connection is an error.
 */
export async function flushSubscriptions(nc: NatsConnection): Promise<void> {
  try {
    await nc.flush();
  } catch (err) {
    if (nc.isClosed()) throw err;
  }
}
