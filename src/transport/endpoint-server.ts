/**
 * Serves one endpoint on NATS: subscribes its subject (queue group shared by all instances), its
 * instance subject and its cancel subject; decodes each request; runs the engine; publishes the
 * response stream. It reports every step to a `RequestObserver` (the endpoint's metrics) and
 * knows nothing about what the observer does with it.
 *
 * Invariant: for every message taken off the wire, `requestStarted` is called once, then
 * `requestEnded` exactly once — in `finish()` or at the end of `reject()` — on every path.
 */
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../logging/logger.ts';
import { flushSubscriptions } from './nats-connection.ts';
import { ErrorType } from '../metrics/names.ts';
import { decodeBody, isContentType } from './codec.ts';
import { FinalFailure, PublishFailure, ResponsePublisher } from './response-publisher.ts';
import { LazyRequestContext } from './request-context.ts';
import {
  cancelSubject,
  ContentType,
  controlSubject,
  DEFAULT_WINDOW,
  MAX_WINDOW,
  Header,
  instanceSubject,
  PROTOCOL_VERSION,
  REQUEST_ID_RE,
  RemoteErrorType,
} from './protocol.ts';

export interface RequestObserver {
  requestStarted(requestBytes: number): number;
  responsePublished(bytes: number): void;
  error(type: ErrorType): void;
  requestEnded(startMark: number): void;
}

/** Returns a value, a promise of one, or an async iterable of responses. */
export type ServerEngine<TEndpoint> = (request: unknown, ctx: LazyRequestContext<TEndpoint>) => unknown;

export interface EndpointServerOptions<TEndpoint> {
  nc: NatsConnection;
  /** The endpoint's shared subject, also its queue group. */
  subject: string;
  instanceId: string;
  engine: ServerEngine<TEndpoint>;
  observer: RequestObserver;
  endpoint: TEndpoint;
  logger: Logger;
  /** A stream waiting this long for its reader to acknowledge is ended as abandoned, in ms. Default 60000. */
  stallTimeoutMs?: number;
}

const CANCELLED = Symbol('cancelled');

interface Active<TEndpoint> {
  readonly reply: string;
  readonly ctx: LazyRequestContext<TEndpoint>;
  /** Data messages the requester takes before it must acknowledge. */
  readonly window: number;
  /** Data messages published, and acknowledged as consumed by the requester. */
  sent: number;
  acked: number;
  cancelled: boolean;
  /** Ends a wait for the engine early: on cancel. */
  wake: (() => void) | undefined;
  /** Ends a wait for credit: on an ack, or on cancel. */
  wakeCredit: (() => void) | undefined;
}

/** Every this many responses the stream loop takes a macrotask turn, so a handler that yields synchronously forever cannot starve I/O (acks, cancels, other requests). */
const TURN_EVERY = 32;


export class EndpointServer<TEndpoint> {
  private readonly o: EndpointServerOptions<TEndpoint>;
  private readonly active = new Map<string, Active<TEndpoint>>();
  private subs: Subscription[] = [];
  private controlSubs: Subscription[] = [];
  private readonly out: ResponsePublisher;
  private readonly stallTimeoutMs: number;
  private stopping = false;
  private idle: (() => void) | undefined;

  constructor(options: EndpointServerOptions<TEndpoint>) {
    this.o = options;
    this.out = new ResponsePublisher(options.nc, options.instanceId, options.observer, options.logger);
    this.stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
  }

  get inflight(): number {
    return this.active.size;
  }

  get instanceSubject(): string {
    return instanceSubject(this.o.subject, this.o.instanceId);
  }

  async start(): Promise<void> {
    const { nc, subject } = this.o;
    const callback = (err: Error | null, msg: Msg): void => {
      if (err !== null) {
        this.o.logger.warn('subscription error', { subject, error: err });
        return;
      }
      this.onMessage(msg);
    };
    this.subs = [nc.subscribe(subject, { queue: subject, callback }), nc.subscribe(this.instanceSubject, { callback })];
    this.controlSubs = [
      nc.subscribe(cancelSubject(subject), {
        callback: (err, msg) => {
          if (err === null) this.cancel(msg.string(), RemoteErrorType.Cancelled);
        },
      }),
      nc.subscribe(controlSubject(subject, this.o.instanceId), {
        callback: (err, msg) => {
          if (err === null) this.ack(msg.string());
        },
      }),
    ];
    // The server has our subscriptions once this returns: requests sent afterwards are delivered.
    await flushSubscriptions(nc);
  }

  /**
   * Stops taking requests, lets in-flight ones finish for up to `graceMs`, then aborts the rest
   * (their clients get a `shutting_down` error). Resolves when no request is left.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const sub of this.subs) sub.unsubscribe();
    if (this.active.size > 0) {
      const drained = new Promise<void>((resolve) => (this.idle = resolve));
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)));
      const timedOut = await Promise.race([drained.then(() => false), expired]);
      clearTimeout(timer);
      if (timedOut) {
        this.o.logger.warn('shutdown grace period over: aborting in-flight requests', { subject: this.o.subject, count: this.active.size });
        for (const id of [...this.active.keys()]) this.cancel(id, RemoteErrorType.ShuttingDown);
        if (this.active.size > 0) await drained;
      }
    }
    for (const sub of this.controlSubs) sub.unsubscribe();
  }

  private onMessage(msg: Msg): void {
    const observer = this.o.observer;
    const mark = observer.requestStarted(msg.data.length);
    const reply = msg.reply ?? '';
    if (this.stopping) return this.reject(mark, reply, undefined, RemoteErrorType.ShuttingDown, 'the endpoint is shutting down');

    let h: MsgHdrs | undefined;
    try {
      h = msg.headers;
    } catch {
      return this.reject(mark, reply, ErrorType.Deserialization, ErrorType.Deserialization, 'malformed NATS headers');
    }
    const contentType = single(h, Header.ContentType);
    if (contentType === null || (contentType !== '' && !isContentType(contentType))) {
      return this.reject(mark, reply, ErrorType.InvalidMessage, ErrorType.InvalidMessage, `bad ${Header.ContentType} header`);
    }
    const decoded = decodeBody(msg.data, contentType === '' ? ContentType.Json : contentType);
    if (!decoded.ok) return this.reject(mark, reply, ErrorType.Deserialization, ErrorType.Deserialization, decoded.reason);
    const version = single(h, Header.Protocol);
    if (version !== PROTOCOL_VERSION) {
      const why = version === '' ? `missing ${Header.Protocol} header` : `unsupported ${Header.Protocol}: ${String(version).slice(0, 32)}`;
      return this.reject(mark, reply, ErrorType.InvalidMessage, ErrorType.InvalidMessage, why);
    }
    const requestId = single(h, Header.RequestId);
    if (requestId === null || !REQUEST_ID_RE.test(requestId) || this.active.has(requestId)) {
      return this.reject(mark, reply, ErrorType.InvalidMessage, ErrorType.InvalidMessage, `missing, malformed or duplicate ${Header.RequestId}`);
    }
    if (reply === '') return this.reject(mark, reply, ErrorType.ResponseStream, ErrorType.ResponseStream, 'request has no reply subject');

    const asked = Number(single(h, Header.Window) || DEFAULT_WINDOW);
    const st: Active<TEndpoint> = {
      reply,
      ctx: new LazyRequestContext(requestId, this.o.endpoint, this.o.instanceId),
      window: Number.isInteger(asked) && asked > 0 ? Math.min(asked, MAX_WINDOW) : DEFAULT_WINDOW,
      sent: 0,
      acked: 0,
      cancelled: false,
      wake: undefined,
      wakeCredit: undefined,
    };
    this.active.set(requestId, st);
    void this.run(st, decoded.value, mark);
  }

  private async run(st: Active<TEndpoint>, request: unknown, mark: number): Promise<void> {
    let iterator: AsyncIterator<unknown, unknown> | undefined;
    let count = 0;
    let final: unknown;
    try {
      let out = this.o.engine(request, st.ctx);
      if (isPromiseLike(out)) out = await orCancelled(st, out);
      if (out !== CANCELLED && isAsyncIterable(out)) {
        iterator = out[Symbol.asyncIterator]();
        for (;;) {
          const step = await orCancelled(st, iterator.next());
          if (step === CANCELLED || st.cancelled) break;
          if (step.done === true) {
            final = step.value;
            break;
          }
          if (count - st.acked >= st.window && !(await this.credit(st))) break;
          if (count > 0 && count % TURN_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
          if (st.cancelled) break;
          this.out.publishData(st.reply, step.value, count);
          st.sent = ++count;
        }
      } else if (!st.cancelled && out !== undefined) {
        this.out.publishData(st.reply, out, 0);
        count = 1;
      }
      if (st.cancelled) void iterator?.return?.()?.catch(() => {});
      else this.out.publishEnd(st.reply, count, final);
    } catch (err) {
      if (!st.cancelled) {
        const type = err instanceof FinalFailure ? ErrorType.PublishFinal : err instanceof PublishFailure ? ErrorType.PublishResponse : ErrorType.Generate;
        this.o.observer.error(type);
        this.o.logger.debug('request failed', { request_id: st.ctx.requestId, error_type: type, error: err });
        this.out.publishError(st.reply, type, errorText(err));
      }
      if (iterator !== undefined) void iterator.return?.()?.catch(() => {});
    } finally {
      this.finish(st, mark);
    }
  }

  private finish(st: Active<TEndpoint>, mark: number): void {
    this.active.delete(st.ctx.requestId);
    this.o.observer.requestEnded(mark);
    if (this.active.size === 0 && this.idle !== undefined) this.idle();
  }

  /** Ends a request that never reached the engine: counted, answered when there is a reply subject. */
  private reject(mark: number, reply: string, type: ErrorType | undefined, remoteType: string, reason: string): void {
    if (type !== undefined) this.o.observer.error(type);
    this.o.logger.debug('request rejected', { error_type: remoteType, reason });
    if (reply !== '') this.out.publishError(reply, remoteType, reason);
    this.o.observer.requestEnded(mark);
  }

  /**
   * Waits until the reader acknowledges enough to open the window again. False when the request
   * was cancelled meanwhile, or the reader stayed silent for the stall timeout: then it is ended
   * as abandoned (not an error of the endpoint; the handler's signal aborts).
   */
  private async credit(st: Active<TEndpoint>): Promise<boolean> {
    const deadline = Date.now() + this.stallTimeoutMs;
    while (!st.cancelled && st.acked + st.window <= st.sent) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.o.logger.debug('stream abandoned: no acknowledgement from its reader', { request_id: st.ctx.requestId, stall_ms: this.stallTimeoutMs });
        this.cancel(st.ctx.requestId, RemoteErrorType.Cancelled);
        return false;
      }
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        st.wakeCredit = resolve;
        timer = setTimeout(resolve, left);
      });
      st.wakeCredit = undefined;
      clearTimeout(timer);
    }
    return !st.cancelled;
  }

  private ack(body: string): void {
    const space = body.indexOf(' ');
    const st = this.active.get(body.slice(0, space));
    const consumed = Number(body.slice(space + 1));
    if (st === undefined || !(consumed > st.acked)) return;
    st.acked = consumed;
    st.wakeCredit?.();
  }

  private cancel(requestId: string, reason: string): void {
    const st = this.active.get(requestId);
    if (st === undefined || st.cancelled) return;
    st.cancelled = true;
    st.ctx.abort(new Error(reason));
    st.wake?.();
    st.wakeCredit?.();
    if (reason === RemoteErrorType.ShuttingDown) {
      this.o.observer.error(ErrorType.Generate);
      this.out.publishError(st.reply, RemoteErrorType.ShuttingDown, 'the endpoint shut down before the response stream finished');
    }
  }

}


/**
 * Whatever the engine awaits, a cancellation ends the wait: a handler that never yields still lets
 * its request end (and in-flight go down) when the client gives up. A fresh promise per wait —
 * racing one long-lived promise would pile a reaction onto it per streamed item.
 */
function orCancelled<T>(st: { wake: (() => void) | undefined; cancelled: boolean }, work: PromiseLike<T>): Promise<T | typeof CANCELLED> {
  if (st.cancelled) return Promise.resolve(CANCELLED);
  return new Promise<T | typeof CANCELLED>((resolve, reject) => {
    st.wake = () => resolve(CANCELLED);
    work.then(resolve, reject);
  });
}

/** The header's only value, '' when absent, null when repeated (an ambiguous request). */
function single(h: MsgHdrs | undefined, key: string): string | null {
  if (h === undefined) return '';
  const values = h.values(key);
  if (values.length > 1) return null;
  return values[0] ?? '';
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  try {
    return typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}
