/**
 * The client's side of one request: an async iterator over the decoded responses, fed by the
 * client's inbox dispatcher. It ends at the end-of-stream message (or the `last` message that is
 * both a response and the end), or fails with a typed error: remote error, no responders, timeout,
 * cancelled, or cut short.
 */
import type { Msg } from '@nats-io/transport-node';
import { DynamoError, ErrorCode, RemoteError } from '../errors.ts';
import { decodeBody, isContentType } from './codec.ts';
import type { HeaderBlock } from './header-block.ts';
import { readHeaders, single } from './message-headers.ts';
import { DATA_LAYOUT } from './response-publisher.ts';
import { ContentType, Header, INSTANCE_ID_RE, LOAD_RE, MessageKind, PROTOCOL_VERSION, RemoteErrorType, type EndOfStream, type ErrorBody } from './protocol.ts';

export interface StreamHooks {
  /**
   * Called once when the stream is over, however it ended: `error` is what it failed with
   * (undefined when it ended); `cancel` asks the server to stop; `endMark`: what `received`
   * returned for the message that ended it, when that was a `last` message.
   */
  done(cancel: boolean, error: unknown, endMark?: number): void;
  /** The first data message arrived (tracing marks it). */
  firstResponse?(): void;
  /** A response message of `bytes` payload bytes was taken for this stream; `firstData` for its first data message. May return a mark for `done`. */
  received?(bytes: number, firstData: boolean): number | undefined;
  /** Tells the serving instance how many responses the reader has consumed (flow control). */
  ack(instanceId: string, consumed: number): void;
  /** The serving instance reported `load` other requests in flight (`Dynamo-Load`, on `end` and `error`). */
  load(instanceId: string, load: number): void;
  /** A 503 no-responders status arrived; returns true when the request was re-sent elsewhere. */
  noResponders(): boolean;
  /** The instance `refusedBy` did not take the request (at its concurrency limit, or stopping); returns true when it was re-sent to another. */
  notTaken(refusedBy: string, overloaded: boolean): boolean;
}

type Waiter = { resolve: (r: IteratorResult<unknown>) => void; reject: (e: unknown) => void };

/**
 * The responses to one request, in order: iterate it with `for await`, or `collect()` it. Fails
 * with a typed `DynamoError` (remote error, timeout, stream cut short, cancelled).
 */
export class ResponseStream<T = unknown> implements AsyncIterableIterator<T> {
  /** The request id, as the server's handler sees it in `ctx.requestId`. */
  readonly requestId: string;
  /**
   * @internal The instance the request was sent to, when one was chosen: only its responses are
   * taken. Undefined when NATS's queue group picks; then the first instance to answer is the one.
   */
  expected: string | undefined;
  /** The instance serving the stream, once one has answered: where acknowledgements go. */
  private servedBy: string | undefined;
  private readonly hooks: StreamHooks;
  private readonly queue: unknown[] = [];
  private head = 0;
  private received = 0;
  private state: 'open' | 'ended' | 'failed' = 'open';
  private failure: unknown;
  /** Readers waiting for the next response, in the order they asked (concurrent `next()` calls are served in order). */
  private readonly waiters: Waiter[] = [];
  private finalValue: unknown;
  /** Runs only while the server may send (it has credit): a reader that reads late is never timed out. */
  private timer: NodeJS.Timeout | undefined;
  private readonly timeoutMs: number;
  private readonly signal: AbortSignal | undefined;
  private readonly window: number;
  private consumed = 0;
  private acked = 0;
  private readonly onAbort = (): void => {
    this.fail(new DynamoError(ErrorCode.Cancelled, `request ${this.requestId} was cancelled`, { cause: this.signal?.reason }), true);
  };

  constructor(requestId: string, timeoutMs: number, window: number, signal: AbortSignal | undefined, hooks: StreamHooks) {
    this.requestId = requestId;
    this.window = window;
    this.signal = signal;
    this.hooks = hooks;
    if (signal?.aborted) {
      queueMicrotask(this.onAbort);
    } else {
      signal?.addEventListener('abort', this.onAbort, { once: true });
    }
    this.timeoutMs = timeoutMs;
    this.armTimer();
  }

  /** The value the handler returned at the end of its stream (a generator's `return`), once the stream has ended. */
  get final(): unknown {
    return this.finalValue;
  }

  /** The instance serving the request: the one that answered, else the one it was sent to. */
  get instanceId(): string | undefined {
    return this.servedBy ?? this.expected;
  }

  /** Whether the end-of-stream message has arrived. */
  get complete(): boolean {
    return this.state === 'ended';
  }

  /** The stream is its own iterator: it can be iterated once. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next response; `done` after the end-of-stream message. */
  next(): Promise<IteratorResult<T>> {
    if (this.head < this.queue.length) {
      const value = this.queue[this.head];
      this.queue[this.head++] = undefined;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.took();
      return Promise.resolve({ value: value as T, done: false });
    }
    if (this.state === 'ended') return Promise.resolve({ value: undefined, done: true });
    if (this.state === 'failed') return Promise.reject(this.failure);
    return new Promise((resolve, reject) => void this.waiters.push({ resolve: resolve as Waiter['resolve'], reject }));
  }

  /**
   * One response handed to the reader; acknowledge every half window. That alone keeps a reader
   * that keeps up from ever blocking the server: with half a window acknowledged, the other half
   * is always in flight or queued here.
   */
  private took(): void {
    this.consumed++;
    if (this.consumed - this.acked >= this.window / 2) this.sendAck();
  }

  private sendAck(): void {
    if (this.servedBy === undefined || this.state !== 'open') return;
    this.acked = this.consumed;
    this.hooks.ack(this.servedBy, this.consumed);
    if (this.hasCredit) this.armTimer();
  }

  /** Whether the server may still send: fewer than a window of responses taken since the last acknowledgement. */
  private get hasCredit(): boolean {
    return this.received - this.acked < this.window;
  }

  /**
   * @internal Called every second by the client. A reader waiting with everything consumed says so
   * again, in case an acknowledgement was lost (NATS core is at-most-once) and the server holds
   * back for it; a stream whose window is full says it is still there (a heartbeat: the server
   * tells a slow reader from an absent one by it, and abandons only the absent).
   */
  tick(): void {
    if ((this.waiters.length > 0 && this.consumed > 0) || !this.hasCredit) this.sendAck();
  }

  private armTimer(): void {
    if (this.state !== 'open') return;
    if (this.timer !== undefined) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => {
      this.fail(new DynamoError(ErrorCode.Timeout, `no response to request ${this.requestId} for ${this.timeoutMs} ms`), true);
    }, this.timeoutMs);
  }

  private disarmTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Leaving the loop early (`break`, `return`, a throw): tells the server to stop the handler. */
  return(): Promise<IteratorResult<T>> {
    if (this.state === 'open') this.settle('ended', undefined, true);
    this.queue.length = 0;
    this.head = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Collects every response. */
  async collect(): Promise<T[]> {
    const out: T[] = [];
    for await (const v of this) out.push(v);
    return out;
  }

  /**
   * @internal Fed by the client's inbox dispatcher. Returns false when the message is dropped:
   * it is not a well-formed response of this protocol from the instance serving this stream.
   * Anything may arrive on an inbox (a peer's garbage, a forged or replayed message); nothing of
   * it throws, and nothing of it ends or alters the stream.
   */
  onMessage(msg: Msg): boolean {
    if (this.state !== 'open') return false;
    const read = readHeaders(msg, DATA_LAYOUT);
    // nats.js makes a new view of the payload on every read of `msg.data`: read it once
    const data = msg.data;
    if (!read.ok || read.headers === undefined) return false;
    const h = read.headers;
    if (h.code === 503 && data.length === 0 && this.servedBy === undefined) {
      // NATS's no-responders status: only before an instance has answered, and only once.
      if (!this.hooks.noResponders()) this.fail(new DynamoError(ErrorCode.NoResponders, `no instance is serving the endpoint (request ${this.requestId})`), false);
      return true;
    }
    const kind = single(h, Header.Kind);
    const protocol = single(h, Header.Protocol);
    if (protocol !== PROTOCOL_VERSION) {
      // An instance of another protocol version refusing the request: say so at once, not after a timeout.
      if (protocol === null || protocol === '' || kind !== MessageKind.Error || this.servedBy !== undefined) return false;
      const body = errorBody(data);
      this.fail(new RemoteError(body?.type ?? 'invalid_message', `an instance speaking protocol ${protocol.slice(0, 16)} refused the request: ${body?.message ?? ''}`), false);
      return true;
    }
    const instance = single(h, Header.Instance);
    if (instance === null || !INSTANCE_ID_RE.test(instance)) return false;
    if (this.servedBy === undefined) {
      if (this.expected !== undefined && instance !== this.expected) return false;
      this.servedBy = instance;
    } else if (instance !== this.servedBy) {
      return false;
    }
    if (kind === MessageKind.Data || kind === MessageKind.Last) {
      const ct = single(h, Header.ContentType);
      const decoded = decodeBody(data, ct !== null && isContentType(ct) ? ct : ContentType.Json);
      if (!decoded.ok) return false;
      if (++this.received === 1) this.hooks.firstResponse?.();
      const arrived = this.hooks.received?.(data.length, this.received === 1);
      if (kind === MessageKind.Last) {
        // The response and the end in one message: the reader gets the value, then the end; nothing
        // is acknowledged for a stream that is over.
        this.reportLoad(instance, h);
        const w = this.waiters.shift();
        if (w === undefined) this.queue.push(decoded.value);
        else w.resolve({ value: decoded.value, done: false });
        // one clock read for the first response and the end, when it was both
        this.settle('ended', undefined, false, arrived);
        return true;
      }
      // A full window waits on the reader, not on the server: no timeout until it acknowledges.
      if (this.hasCredit) this.armTimer();
      else this.disarmTimer();
      this.push(decoded.value);
      return true;
    }
    if (kind === MessageKind.End) {
      const end = endBody(data);
      if (end === undefined) return false;
      this.reportLoad(instance, h);
      this.hooks.received?.(data.length, false);
      if (end.count !== this.received) {
        // Lost messages, or a forged end: either way the server may still be running it — cancel.
        this.fail(new DynamoError(ErrorCode.StreamCutShort, `request ${this.requestId}: received ${this.received} of ${end.count} responses`), true);
        return true;
      }
      this.finalValue = end.final;
      this.settle('ended', undefined, false);
      return true;
    }
    if (kind === MessageKind.Error) {
      this.reportLoad(instance, h);
      this.hooks.received?.(data.length, false);
      const body = errorBody(data);
      const type = single(h, Header.ErrorType) || body?.type || 'unknown';
      if ((type === RemoteErrorType.Overloaded || type === RemoteErrorType.Unavailable) && this.received === 0) {
        // Nothing ran: another instance may take it (once), and then that one serves the stream.
        this.servedBy = undefined;
        if (this.hooks.notTaken(instance, type === RemoteErrorType.Overloaded)) return true;
        if (type === RemoteErrorType.Overloaded) {
          this.fail(new DynamoError(ErrorCode.Overloaded, `request ${this.requestId}: ${body?.message ?? 'the instance is overloaded'}`), false);
          return true;
        }
      }
      this.fail(new RemoteError(type, body?.message ?? ''), false);
      return true;
    }
    return false;
  }

  /** @internal The request was never sent: stop the timer and the abort listener, tell no one. */
  discard(): void {
    if (this.state !== 'open') return;
    this.state = 'failed';
    this.disarmTimer();
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  /** @internal The connection went away before the end-of-stream message. */
  cutShort(reason: string): void {
    // The cancel is buffered by the NATS client while it reconnects, so the handler still learns.
    this.fail(new DynamoError(ErrorCode.StreamCutShort, `request ${this.requestId}: ${reason} after ${this.received} responses`), true);
  }

  /** Before the stream settles: the router counts this request as in flight until then. */
  private reportLoad(instance: string, h: HeaderBlock): void {
    const load = single(h, Header.Load);
    if (load !== null && LOAD_RE.test(load)) this.hooks.load(instance, Number(load));
  }

  private push(value: unknown): void {
    const w = this.waiters.shift();
    if (w !== undefined) {
      this.took();
      w.resolve({ value, done: false });
    } else {
      this.queue.push(value);
    }
  }

  private fail(error: unknown, cancel: boolean): void {
    if (this.state !== 'open') return;
    this.settle('failed', error, cancel);
  }

  private settle(state: 'ended' | 'failed', error: unknown, cancel: boolean, endMark?: number): void {
    this.state = state;
    this.failure = error;
    this.disarmTimer();
    this.signal?.removeEventListener('abort', this.onAbort);
    this.hooks.done(cancel, error, endMark);
    for (const w of this.waiters.splice(0)) {
      if (state === 'failed') w.reject(error);
      else w.resolve({ value: undefined, done: true });
    }
  }
}

/** The end-of-stream body, or undefined when it is not one. */
function endBody(data: Uint8Array): (EndOfStream & { final?: unknown }) | undefined {
  const decoded = decodeBody(data, ContentType.Json);
  if (!decoded.ok) return undefined;
  const body = decoded.value as Partial<EndOfStream> & { final?: unknown } | null;
  if (body === null || typeof body !== 'object' || !Number.isSafeInteger(body.count) || (body.count as number) < 0) return undefined;
  return body as EndOfStream & { final?: unknown };
}

/** The error body's fields that are strings; undefined when the body is not JSON. */
function errorBody(data: Uint8Array): Partial<ErrorBody> | undefined {
  const decoded = decodeBody(data, ContentType.Json);
  if (!decoded.ok || decoded.value === null || typeof decoded.value !== 'object') return undefined;
  const { type, message } = decoded.value as Record<string, unknown>;
  return { ...(typeof type === 'string' ? { type: type.slice(0, 64) } : {}), ...(typeof message === 'string' ? { message } : {}) };
}
