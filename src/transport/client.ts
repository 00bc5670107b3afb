/**
 * Calls an endpoint: discovers its instances, sends requests (round-robin, random, or to a chosen
 * instance) and hands back each response stream. All replies come in on one wildcard inbox
 * subscription per client, dispatched by the last subject token.
 */
import { headers as natsHeaders, nuid, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { DynamoError, ErrorCode } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { flushSubscriptions } from './nats-connection.ts';
import { encodeBody } from './codec.ts';
import { cancelSubject, controlSubject, DEFAULT_WINDOW, Header, MAX_WINDOW, PROTOCOL_VERSION } from './protocol.ts';
import { ResponseStream } from './response-stream.ts';
import { discoverInstances, type Instance } from './service-discovery.ts';

export const RouterMode = { RoundRobin: 'round_robin', Random: 'random' } as const;
export type RouterMode = (typeof RouterMode)[keyof typeof RouterMode];

export interface ClientOptions {
  /** How `generate` picks an instance when none is named. Default `round_robin`. */
  router?: RouterMode;
  /** Longest wait for the next response message, in ms. Default 60000. */
  timeoutMs?: number;
  /** How long one discovery round listens for instances, in ms. Default 250. */
  discoveryWindowMs?: number;
  /** Responses a stream may have in flight before the reader acknowledges them (flow control), 1–4096. Default 128. */
  window?: number;
}

export interface GenerateOptions {
  /** Send to this instance only (direct routing). */
  instanceId?: string;
  /** Cancels the request: the iteration fails with `DYN_ERR_CANCELLED` and the server's handler sees its signal abort. */
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this request. */
  timeoutMs?: number;
}

export interface WaitOptions {
  /** Give up after this many ms with `DYN_ERR_NO_INSTANCES`. Default 30000. */
  timeoutMs?: number;
  /** Wait until at least this many instances serve the endpoint. Default 1. */
  count?: number;
}

export interface ClientTransport {
  nc: NatsConnection;
  onConnectionChange(listener: (connected: boolean) => void): () => void;
}

export class EndpointClient {
  /** The endpoint's shared subject. */
  readonly subject: string;
  private readonly transport: ClientTransport;
  private readonly logger: Logger;
  private readonly router: RouterMode;
  private readonly timeoutMs: number;
  private readonly windowMs: number;
  private readonly window: number;
  private readonly prefix = nuid.next();
  private readonly inbox: string;
  private readonly streams = new Map<string, ResponseStream>();
  private known: Instance[] = [];
  private cursor = 0;
  private seq = 0;
  private sub: Subscription | undefined;
  private unlisten: (() => void) | undefined;
  /** Requests cut short by an outage: their cancel is sent again once NATS is back. */
  private orphans: string[] = [];
  /** One timer per client, not per stream: re-acknowledges streams whose reader is waiting. */
  private reack: NodeJS.Timeout | undefined;

  constructor(transport: ClientTransport, subject: string, logger: Logger, options: ClientOptions = {}) {
    this.transport = transport;
    this.subject = subject;
    this.logger = logger;
    this.router = options.router ?? RouterMode.RoundRobin;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.windowMs = options.discoveryWindowMs ?? 250;
    this.window = options.window ?? DEFAULT_WINDOW;
    if (!Number.isInteger(this.window) || this.window < 1 || this.window > MAX_WINDOW) {
      throw new DynamoError(ErrorCode.InvalidOption, `window ${String(options.window)} is not valid: expected a whole number from 1 to ${MAX_WINDOW}`);
    }
    this.inbox = `_INBOX.${this.prefix}`;
    if (this.router !== RouterMode.RoundRobin && this.router !== RouterMode.Random) {
      throw new DynamoError(ErrorCode.InvalidOption, `router ${JSON.stringify(this.router)} is not valid: expected round_robin or random`);
    }
  }

  async start(): Promise<void> {
    const { nc } = this.transport;
    const cut = this.inbox.length + 1;
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (err, msg) => {
        if (err === null) this.streams.get(msg.subject.slice(cut))?.onMessage(msg);
      },
    });
    this.unlisten = this.transport.onConnectionChange((connected) => {
      if (!connected) {
        for (const stream of [...this.streams.values()]) {
          this.orphans.push(stream.requestId);
          stream.cutShort('the NATS connection was lost');
        }
        return;
      }
      // A cancel published during the outage may reach the server before the serving instance has
      // subscribed again; NATS drops it then. Repeat it while the instances come back.
      const ids = this.orphans;
      this.orphans = [];
      if (ids.length === 0) return;
      for (const delay of [250, 1000, 3000]) {
        setTimeout(() => {
          for (const id of ids) this.sendCancel(id);
        }, delay).unref();
      }
    });
    this.reack = setInterval(() => {
      for (const stream of this.streams.values()) stream.reackIfWaiting();
    }, 1000).unref();
    await flushSubscriptions(nc);
  }

  /** The instances found by the last discovery round. */
  instances(): readonly Instance[] {
    return this.known;
  }

  /** Runs a discovery round now. */
  async refresh(): Promise<readonly Instance[]> {
    this.known = await discoverInstances(this.transport.nc, this.subject, this.windowMs);
    return this.known;
  }

  /** Resolves once at least `count` instances serve the endpoint. */
  async waitForInstances(options: WaitOptions = {}): Promise<readonly Instance[]> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const count = options.count ?? 1;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await this.refresh();
      if (found.length >= count) return found;
      if (Date.now() >= deadline) {
        throw new DynamoError(ErrorCode.NoInstances, `${found.length} of ${count} instance(s) of ${this.subject} found within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, deadline - Date.now()))));
    }
  }

  /** Sends `request` and returns its response stream. Throws `DYN_ERR_ENCODE` if it cannot be encoded. */
  generate<T = unknown>(request: unknown, options: GenerateOptions = {}): ResponseStream<T> {
    let body;
    try {
      body = encodeBody(request);
    } catch (err) {
      throw new DynamoError(ErrorCode.Encode, `request cannot be encoded: ${(err as Error).message}`, { cause: err });
    }
    const token = (this.seq++).toString(36);
    const requestId = `${this.prefix}-${token}`;
    const reply = `${this.inbox}.${token}`;
    const h = natsHeaders();
    h.set(Header.Protocol, PROTOCOL_VERSION);
    h.set(Header.RequestId, requestId);
    h.set(Header.ContentType, body.contentType);
    h.set(Header.Window, String(this.window));

    const target = this.pick(options.instanceId);
    let resent = false;
    const send = (subject: string): void => this.transport.nc.publish(subject, body.data, { reply, headers: h });
    const stream: ResponseStream<T> = new ResponseStream<T>(requestId, options.timeoutMs ?? this.timeoutMs, this.window, options.signal, {
      done: (cancel) => {
        this.streams.delete(token);
        if (cancel) this.sendCancel(requestId);
      },
      ack: (instanceId, consumed) => {
        try {
          this.transport.nc.publish(controlSubject(this.subject, instanceId), `${requestId} ${consumed}`);
        } catch (err) {
          this.logger.debug('ack not sent', { request_id: requestId, error: err });
        }
      },
      noResponders: () => {
        // Nothing was delivered, so sending again cannot run the request twice.
        if (resent || options.instanceId !== undefined || target === undefined) return false;
        resent = true;
        this.forget(target.instanceId);
        stream.instanceId = undefined;
        send(this.subject);
        return true;
      },
    });
    stream.instanceId = target?.instanceId;
    this.streams.set(token, stream as ResponseStream);
    try {
      send(target?.subject ?? this.subject);
    } catch (err) {
      this.streams.delete(token);
      throw new DynamoError(ErrorCode.NoResponders, `request could not be sent: ${(err as Error).message}`, { cause: err });
    }
    return stream;
  }

  /** Fails every open stream and stops listening. */
  async close(): Promise<void> {
    for (const stream of [...this.streams.values()]) stream.cutShort('the client was closed');
    clearInterval(this.reack);
    this.unlisten?.();
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  private pick(instanceId: string | undefined): Instance | undefined {
    if (instanceId !== undefined) {
      // It becomes a subject token: no dots, wildcards or spaces.
      if (!/^[A-Za-z0-9_-]{1,128}$/.test(instanceId)) {
        throw new DynamoError(ErrorCode.InvalidOption, `instanceId ${JSON.stringify(instanceId)} is not a valid instance id`);
      }
      return this.known.find((i) => i.instanceId === instanceId) ?? { instanceId, subject: `${this.subject}.${instanceId}` };
    }
    const n = this.known.length;
    if (n === 0) return undefined; // the shared subject: NATS's queue group picks
    const i = this.router === RouterMode.Random ? Math.floor(Math.random() * n) : this.cursor++ % n;
    return this.known[i];
  }

  private forget(instanceId: string): void {
    this.known = this.known.filter((i) => i.instanceId !== instanceId);
  }

  private sendCancel(requestId: string): void {
    try {
      this.transport.nc.publish(cancelSubject(this.subject), requestId);
    } catch (err) {
      this.logger.debug('cancel not sent', { request_id: requestId, error: err });
    }
  }
}
