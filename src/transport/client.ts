/**
 * Calls an endpoint: discovers its instances, sends requests (round-robin, random, or to a chosen
 * instance) and hands back each response stream. All replies come in on one wildcard inbox
 * subscription per client, dispatched by the last subject token: the request's tag
 * (request-secret.ts), so a stream can only be reached by whoever knows its reply subject, and
 * the server only answers a reply subject whose requester showed its key.
 */
import { randomUUID } from 'node:crypto';
import { headers as natsHeaders, nuid, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Context } from '@opentelemetry/api';
import { DynamoError, ErrorCode } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { flushSubscriptions } from './nats-connection.ts';
import { encodeBody } from './codec.ts';
import { cancelSubject, controlSubject, DEFAULT_WINDOW, Header, INSTANCE_ID_RE, MAX_WINDOW, PROTOCOL_VERSION } from './protocol.ts';
import { addCallerHeaders, checkHeaderBlock } from './caller-headers.ts';
import { newRequestSecret, tagOf } from './request-secret.ts';
import { protocolHeaderBlock } from './request-header-block.ts';
import type { ClientRequestTrace, ClientTracer } from './request-tracing.ts';
import { outcomeOf } from './request-outcome.ts';
import { ResponseStream } from './response-stream.ts';
import type { InstanceDirectory } from './instance-directory.ts';
import type { Instance } from './service-discovery.ts';

/** How a client picks an instance when the request names none. */
export const RouterMode = {
  /** Each instance in turn, from a random first one (fresh clients do not all start at the same instance). */
  RoundRobin: 'round_robin',
  /** An instance picked at random per request. */
  Random: 'random',
  /**
   * The less loaded of two instances picked at random (power of two choices). An instance's load:
   * the requests it reported in flight on its last answer (fresh for 1 s), plus this runtime's
   * requests in flight to it now.
   */
  LeastLoaded: 'least_loaded',
} as const;
/** `round_robin`, `random` or `least_loaded`. */
export type RouterMode = (typeof RouterMode)[keyof typeof RouterMode];

/** Options of `endpoint.client()`. */
export interface ClientOptions {
  /** How `generate` picks an instance when none is named. Default `round_robin`. */
  router?: RouterMode;
  /** Longest wait for the next response message, in ms. Default 60000. */
  timeoutMs?: number;
  /**
   * How long one discovery round listens for instances, in ms. Default 250. The runtime shares one
   * directory of instances per endpoint: the first client of the endpoint sets it.
   */
  discoveryWindowMs?: number;
  /** Responses a stream may have in flight before the reader acknowledges them (flow control), 1–4096. Default 128. */
  window?: number;
}

/** Options of one request, `client.generate(request, options)`. */
export interface GenerateOptions {
  /** Send to this instance only (direct routing). */
  instanceId?: string;
  /** Cancels the request: the iteration fails with `DYN_ERR_CANCELLED` and the server's handler sees its signal abort. */
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this request. */
  timeoutMs?: number;
  /**
   * Headers sent with the request; the handler reads them from `ctx.headers`. Names the protocol
   * reserves (`Dynamo-*`, `Nats-*`) are refused with `DYN_ERR_INVALID_HEADER`; the whole header
   * block (with the trace context) must stay within 16 KiB and 64 entries, else
   * `DYN_ERR_HEADERS_TOO_LARGE`. A propagator's fields (`traceparent`, `tracestate`, `baggage`)
   * are written after these and win. Default none.
   */
  headers?: Readonly<Record<string, string | readonly string[]>>;
  /**
   * The OpenTelemetry context the request belongs to: the parent of its CLIENT span and the
   * source of the trace context and baggage sent. Default: the active context.
   */
  context?: Context;
}

/** Options of `client.waitForInstances()`. */
export interface WaitOptions {
  /** Give up after this many ms with `DYN_ERR_NO_INSTANCES`. Default 30000. */
  timeoutMs?: number;
  /** Wait until at least this many instances serve the endpoint. Default 1. */
  count?: number;
}

export interface ClientTransport {
  nc: NatsConnection;
  /** Where this connection's inboxes live (nats.js `inboxPrefix`, default `_INBOX`): NATS permissions let a user read only its own. */
  inboxPrefix: string;
  onConnectionChange(listener: (connected: boolean) => void): () => void;
  /** The runtime's shared directory of the endpoint's instances. */
  directory(subject: string, windowMs?: number): InstanceDirectory;
}

/**
 * What a client reports to: the caller-side metrics of its target endpoint (shared by every
 * client of that endpoint in one runtime). Every `requestStarted` is followed by exactly one
 * `requestEnded`, whatever the path: the stream's end, its failure, or a send that failed.
 */
export interface ClientObserver {
  /** A request is about to be sent; returns the start mark the other calls take. */
  requestStarted(): number;
  /** The request's `bytes` payload bytes were sent. */
  requestSent(bytes: number): void;
  /**
   * A response message of `bytes` payload bytes was taken; `firstData` for the stream's first data
   * message. May return the mark of its arrival (then `requestEnded` can take it as the end).
   */
  responseReceived(bytes: number, firstData: boolean, startMark: number): number | undefined;
  /**
   * The request is over; `failure` is the error its caller sees (undefined when it did not fail);
   * `endMark`: the mark `responseReceived` returned for the message that ended the stream, when it
   * was its first response too (a `last` message).
   */
  requestEnded(startMark: number, failure: unknown, endMark?: number): void;
  /** A failure outside any request (`waitForInstances` giving up). */
  failed(failure: unknown): void;
}

/** What a client dropped from its inbox instead of handing it to a reader. */
export interface ClientStats {
  /** Messages for an open stream that were not a valid response from its instance: garbage, forged, foreign or of another protocol. */
  rejectedMessages: number;
  /** Messages for no open stream: late (after the stream ended or was cancelled) or aimed at a reply subject this client never used. */
  unmatchedMessages: number;
}

/** Calls one endpoint: made by `endpoint.client()`, already started. `close()` it when done. */
export class EndpointClient {
  /** The endpoint's shared subject. */
  readonly subject: string;
  private readonly transport: ClientTransport;
  private readonly logger: Logger;
  private readonly observer: ClientObserver | undefined;
  private readonly router: RouterMode;
  private readonly timeoutMs: number;
  private readonly window: number;
  private readonly prefix = nuid.next();
  private readonly inbox: string;
  private readonly dropped: ClientStats = { rejectedMessages: 0, unmatchedMessages: 0 };
  /** Open streams by their tag (the last token of their reply subject), with the secret their cancel needs. */
  private readonly streams = new Map<string, { readonly stream: ResponseStream; readonly secret: string }>();
  private readonly directory: InstanceDirectory;
  /** Makes each request's CLIENT span and writes its context into the request's headers. */
  private readonly tracer: ClientTracer | undefined;
  private acquired = false;
  /** Callers of `endpoint.client()` holding this client: the last `close()` closes it. */
  private holders = 0;
  private closed = false;
  /** Round-robin position; random at first so that fresh clients spread from their first request. */
  private cursor = Math.floor(Math.random() * 0x7fffffff);
  private seq = 0;
  private sub: Subscription | undefined;
  private unlisten: (() => void) | undefined;
  /** Secrets of requests cut short by an outage: their cancel is sent again once NATS is back. */
  private orphans: string[] = [];
  /** One timer per client, not per stream: re-acknowledges streams whose reader is waiting. */
  private reack: NodeJS.Timeout | undefined;

  /** @internal Use `endpoint.client()`. */
  constructor(transport: ClientTransport, subject: string, logger: Logger, options: ClientOptions = {}, tracer?: ClientTracer, observer?: ClientObserver) {
    this.transport = transport;
    this.tracer = tracer;
    this.subject = subject;
    this.logger = logger;
    this.observer = observer;
    this.router = options.router ?? RouterMode.RoundRobin;
    this.timeoutMs = positiveMs(options.timeoutMs, 'timeoutMs', 60_000);
    this.directory = transport.directory(subject, positiveMs(options.discoveryWindowMs, 'discoveryWindowMs', 250));
    this.window = options.window ?? DEFAULT_WINDOW;
    if (!Number.isInteger(this.window) || this.window < 1 || this.window > MAX_WINDOW) {
      throw new DynamoError(ErrorCode.InvalidOption, `window ${String(options.window)} is not valid: expected a whole number from 1 to ${MAX_WINDOW}`);
    }
    // Random, not the request-id prefix: request ids are shown to handlers and logs, the inbox is not derivable from them.
    this.inbox = `${transport.inboxPrefix}.${randomUUID().replaceAll('-', '')}`;
    if (!Object.values(RouterMode).includes(this.router)) {
      throw new DynamoError(ErrorCode.InvalidOption, `router ${JSON.stringify(this.router)} is not valid: expected round_robin, random or least_loaded`);
    }
  }

  /** Subscribes to the client's reply inbox; `endpoint.client()` has done it already. */
  async start(): Promise<void> {
    const { nc } = this.transport;
    this.directory.acquire();
    this.acquired = true;
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (err, msg) => {
        if (err === null) this.dispatch(msg);
      },
    });
    this.unlisten = this.transport.onConnectionChange((connected) => {
      if (!connected) {
        for (const { stream, secret } of [...this.streams.values()]) {
          this.orphans.push(secret);
          stream.cutShort('the NATS connection was lost');
        }
        return;
      }
      // A cancel published during the outage may reach the server before the serving instance has
      // subscribed again; NATS drops it then. Repeat it while the instances come back.
      const secrets = this.orphans;
      this.orphans = [];
      if (secrets.length === 0) return;
      for (const delay of [250, 1000, 3000]) {
        setTimeout(() => {
          for (const secret of secrets) this.sendCancel(secret);
        }, delay).unref();
      }
    });
    this.reack = setInterval(() => {
      for (const { stream } of this.streams.values()) stream.tick();
    }, 1000).unref();
    await flushSubscriptions(nc);
  }

  /** Counts of what this client dropped from its inbox (see `ClientStats`). */
  stats(): ClientStats {
    return { ...this.dropped };
  }

  /** The instances found by the last discovery round (the runtime refreshes them on its own). */
  instances(): readonly Instance[] {
    return this.directory.instances;
  }

  /** Runs a discovery round now. */
  refresh(): Promise<readonly Instance[]> {
    return this.directory.refresh();
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
        const error = new DynamoError(ErrorCode.NoInstances, `${found.length} of ${count} instance(s) of ${this.subject} found within ${timeoutMs} ms`);
        this.observer?.failed(error);
        throw error;
      }
      await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, deadline - Date.now()))));
    }
  }

  /** Sends `request` and returns its response stream. Throws `DYN_ERR_ENCODE` if it cannot be encoded. */
  generate<T = unknown>(request: unknown, options: GenerateOptions = {}): ResponseStream<T> {
    if (this.closed) throw new DynamoError(ErrorCode.ClientClosed, `the client of ${this.subject} is closed`);
    let body;
    try {
      body = encodeBody(request);
    } catch (err) {
      throw new DynamoError(ErrorCode.Encode, `request cannot be encoded: ${(err as Error).message}`, { cause: err });
    }
    const requestId = `${this.prefix}-${(this.seq++).toString(36)}`;
    const { secret, key } = newRequestSecret();
    const tag = tagOf(key, this.subject, body.contentType, body.data);
    const reply = `${this.inbox}.${tag}`;
    // Every option is checked before the request's span starts: a refused call leaves no span open.
    const timeoutMs = positiveMs(options.timeoutMs, 'timeoutMs', this.timeoutMs);
    const target = this.pick(options.instanceId);
    let h: MsgHdrs;
    let traced: ClientRequestTrace | undefined;
    if (options.headers === undefined && (this.tracer === undefined || this.tracer.quiet())) {
      // Nothing but the protocol's headers: the block is written at once (request-header-block.ts).
      h = protocolHeaderBlock(requestId, key, body.contentType, this.window);
    } else {
      h = natsHeaders();
      h.set(Header.Protocol, PROTOCOL_VERSION);
      h.set(Header.RequestId, requestId);
      h.set(Header.Key, key);
      h.set(Header.ContentType, body.contentType);
      h.set(Header.Window, String(this.window));
      if (options.headers !== undefined) addCallerHeaders(h, options.headers);
      traced = this.tracer?.start(h, requestId, options.context);
      if (traced?.injected === true || options.headers !== undefined) {
        try {
          checkHeaderBlock(h);
        } catch (err) {
          traced?.end({ kind: 'error', errorType: (err as DynamoError).code });
          throw err;
        }
      }
    }

    const observer = this.observer;
    const mark = observer?.requestStarted() ?? 0;
    let resent = false;
    let retried = false;
    let tracked = target?.instanceId;
    const send = (subject: string): void => this.transport.nc.publish(subject, body.data, { reply, headers: h });
    const stream: ResponseStream<T> = new ResponseStream<T>(requestId, timeoutMs, this.window, options.signal, {
      done: (cancel, error, endMark) => {
        this.streams.delete(tag);
        this.track(tracked, -1);
        if (cancel) this.sendCancel(secret, stream.instanceId);
        traced?.end(outcomeOf(error, cancel));
        observer?.requestEnded(mark, error, endMark);
      },
      load: (instanceId, load) => this.directory.reportLoad(instanceId, load, tracked === instanceId),
      ...(traced === undefined ? {} : { firstResponse: () => traced.firstResponse() }),
      ...(observer === undefined ? {} : { received: (bytes: number, firstData: boolean): number | undefined => observer.responseReceived(bytes, firstData, mark) }),
      ack: (instanceId, consumed) => {
        try {
          this.transport.nc.publish(controlSubject(this.subject, instanceId), `${key} ${consumed}`);
        } catch (err) {
          this.logger.debug('ack not sent', { request_id: requestId, error: err });
        }
      },
      noResponders: () => {
        // Nothing was delivered, so sending again cannot run the request twice.
        if (resent || options.instanceId !== undefined || target === undefined) return false;
        resent = true;
        this.directory.forget(target.instanceId);
        stream.expected = undefined;
        this.track(tracked, -1);
        tracked = undefined;
        send(this.subject);
        return true;
      },
      notTaken: (refusedBy, overloaded) => {
        if (retried || options.instanceId !== undefined) return false;
        retried = true;
        if (!overloaded) this.directory.forget(refusedBy); // stopping
        const other = this.pick(undefined, refusedBy);
        // An overloaded instance that is the only one known would be asked again through the queue group.
        if (other === undefined && overloaded && this.directory.instances.length > 0) return false;
        this.track(tracked, -1);
        tracked = other?.instanceId;
        this.track(tracked, 1);
        stream.expected = other?.instanceId;
        send(other?.subject ?? this.subject);
        return true;
      },
    });
    stream.expected = target?.instanceId;
    this.streams.set(tag, { stream: stream as ResponseStream, secret });
    this.track(tracked, 1);
    try {
      send(target?.subject ?? this.subject);
    } catch (err) {
      this.streams.delete(tag);
      this.track(tracked, -1);
      stream.discard();
      const max = this.transport.nc.info?.max_payload;
      const size = body.data.length + (h as unknown as { encode(): Uint8Array }).encode().length;
      const error =
        max !== undefined && size > max
          ? new DynamoError(ErrorCode.RequestTooLarge, `request of ${size} bytes (body and headers) is over the NATS server's max_payload of ${max} bytes`, { cause: err })
          : new DynamoError(ErrorCode.NoResponders, `request could not be sent: ${(err as Error).message}`, { cause: err });
      traced?.end({ kind: 'error', errorType: error.code });
      observer?.requestEnded(mark, error);
      throw error;
    }
    observer?.requestSent(body.data.length);
    return stream;
  }

  /** Hands an inbox message to its stream. Never throws: nats.js would close the subscription. */
  private dispatch(msg: Msg): void {
    try {
      const entry = this.streams.get(msg.subject.slice(this.inbox.length + 1));
      if (entry === undefined) {
        this.dropped.unmatchedMessages++;
        return;
      }
      if (entry.stream.onMessage(msg)) return;
      this.dropped.rejectedMessages++;
      this.logger.debug('inbox message dropped: not a response of its stream', { request_id: entry.stream.requestId });
    } catch (err) {
      this.dropped.rejectedMessages++;
      this.logger.debug('inbox message dropped', { error: err });
    }
  }

  /** @internal One more caller of `endpoint.client()` holds this client. */
  retain(): void {
    this.holders++;
  }

  /** Whether the client is closed: `close()` was called by everyone holding it. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Releases this client. `endpoint.client()` hands one client per endpoint and options to every
   * caller in a runtime: the last of them to call `close()` closes it — fails its open streams and
   * stops listening. Closing more often than you asked for it does nothing.
   */
  async close(): Promise<void> {
    if (this.closed || --this.holders > 0) return;
    this.closed = true;
    for (const { stream } of [...this.streams.values()]) stream.cutShort('the client was closed');
    clearInterval(this.reack);
    this.unlisten?.();
    this.sub?.unsubscribe();
    this.sub = undefined;
    if (this.acquired) this.directory.release();
    this.acquired = false;
  }

  /** The instance for a request: the one named, else one by the router (never `except`). */
  private pick(instanceId: string | undefined, except?: string): Instance | undefined {
    const known = except === undefined ? this.directory.instances : this.directory.instances.filter((i) => i.instanceId !== except);
    if (instanceId !== undefined) {
      // It becomes a subject token: no dots, wildcards or spaces.
      if (!INSTANCE_ID_RE.test(instanceId)) {
        throw new DynamoError(ErrorCode.InvalidOption, `instanceId ${JSON.stringify(instanceId)} is not a valid instance id`);
      }
      return known.find((i) => i.instanceId === instanceId) ?? { instanceId, subject: `${this.subject}.${instanceId}` };
    }
    const n = known.length;
    if (n === 0) return undefined; // the shared subject: NATS's queue group picks
    switch (this.router) {
      case RouterMode.Random:
        return known[Math.floor(Math.random() * n)];
      case RouterMode.LeastLoaded: {
        // Two distinct instances (with two known, always both), the less loaded wins; a tie goes to the first drawn.
        const i = Math.floor(Math.random() * n);
        const j = n === 1 ? i : (i + 1 + Math.floor(Math.random() * (n - 1))) % n;
        const a = known[i]!;
        const b = known[j]!;
        const now = Date.now();
        return this.directory.load(b.instanceId, now) < this.directory.load(a.instanceId, now) ? b : a;
      }
      default:
        return known[this.cursor++ % n];
    }
  }

  private track(instanceId: string | undefined, delta: 1 | -1): void {
    if (instanceId !== undefined) this.directory.track(instanceId, delta);
  }

  /**
   * The cancel carries the request's secret: only the requester can stop its request. It goes to
   * the instance serving it when that is known, else to every instance of the endpoint.
   */
  private sendCancel(secret: string, instanceId?: string): void {
    try {
      this.transport.nc.publish(instanceId === undefined ? cancelSubject(this.subject) : controlSubject(this.subject, instanceId), secret);
    } catch (err) {
      this.logger.debug('cancel not sent', { error: err });
    }
  }
}

/** Node's timers take at most this (longer ones fire after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration option: a positive number of ms a timer can wait, or the default when absent. */
function positiveMs(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || value > MAX_TIMER_MS) {
    throw new DynamoError(ErrorCode.InvalidOption, `${name} ${String(value)} is not valid: expected a positive number of milliseconds, at most ${MAX_TIMER_MS}`);
  }
  return value;
}
