/**
 * Serves one endpoint on NATS: subscribes its subject (queue group shared by all instances), its
 * instance subject, its cancel subject and its control subject; runs the engine for each request
 * `parseRequest` accepts; publishes the response stream. It reports every step to a
 * `RequestObserver` (the endpoint's metrics) and knows nothing about what the observer does with it.
 *
 * Invariant: for every message taken off the wire, `requestStarted` is called once, then
 * `requestEnded` exactly once — in `finish()` (guarded: it runs once per stream) or at the end of
 * `refuse()` — on every path.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { DynamoError, ErrorCode } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { RateLimitedLog } from '../logging/rate-limited.ts';
import { CancelReason, ErrorType } from '../metrics/names.ts';
import { readHeaders } from './message-headers.ts';
import { REQUEST_LAYOUT } from './request-header-block.ts';
import { flushSubscriptions } from './nats-connection.ts';
import { announceSubject, cancelSubject, controlSubject, DEFAULT_WINDOW, instanceSubject, parseAck, RemoteErrorType, TOKEN_RE } from './protocol.ts';
import { LazyRequestContext } from './request-context.ts';
import { Answer, parseRequest, type RefusedRequest } from './request-parser.ts';
import { OK, type RequestOutcome, type ServerTracer, type TraceIds } from './request-tracing.ts';
import { keyOf } from './request-secret.ts';
import { errorText, isPromiseLike, isStream, responsesOf, type ResponseSource } from './engine-output.ts';
import { FinalFailure, PublishFailure, ResponsePublisher } from './response-publisher.ts';
import { CANCELLED, ServedStream } from './served-stream.ts';

export interface RequestObserver {
  requestStarted(requestBytes: number): number;
  responsePublished(bytes: number): void;
  /**
   * A data message was published: `since` is the request's start mark for its first one, else the
   * mark returned for the previous one. Returns this message's mark (one clock read serves both).
   * `sampled`: the request's span, when sampled — for the first one (the time to first response
   * keeps it as an exemplar).
   */
  dataPublished(since: number, first: boolean, sampled?: TraceIds): number;
  error(type: ErrorType): void;
  /** The request ended early for `reason` (its requester cancelled, stalled, or shutdown's grace ended): never also an `error`. */
  cancelled(reason: CancelReason): void;
  /**
   * The request is over. `sampled`: its span, when it is sampled (the duration histogram keeps it as
   * an exemplar); `failed`: the `error_type` it was counted under, if any (a cancellation is none);
   * `endMark`: the mark `dataPublished` returned for the message that ended the stream, when one
   * did (a `last` message): the end is that moment, and the clock is not read again.
   */
  requestEnded(startMark: number, sampled?: TraceIds, failed?: ErrorType, endMark?: number): void;
  /** A valid request refused because the endpoint serves `maxConcurrency` already: not a request served, not an error. */
  requestRefused?(): void;
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
  /** Requests served at once; the excess is answered `overloaded` at once. Default: no limit. */
  maxConcurrency?: number | undefined;
  /** Makes each request's SERVER span, its context extracted from the request's headers. Default none. */
  tracer?: ServerTracer | undefined;
  /** How long at most a stopping instance answers direct requests `unavailable` before it drains them too — less once they stop coming for 250 ms; ms. Default 1000 (bounded by the grace period). */
  lingerMs?: number;
}

/**
 * After this many responses, or this many payload bytes, since its last turn of the event loop,
 * the stream loop takes one (a macrotask), so a handler that yields synchronously forever cannot
 * starve I/O (acks, cancels, other requests). Each turn costs an event-loop pass and a socket
 * write of what the turn queued (turn-outbox.ts), so not more often: the count is the default
 * window, before which a stream of a default reader does not wait for credit anyway; the bytes
 * bound a turn of large responses.
 */
const TURN_RESPONSES = DEFAULT_WINDOW;
const TURN_BYTES = 1024 * 1024;

/** A stopping instance stops lingering once no direct request has come for this long. */
const LINGER_QUIET_MS = 250;

/** Cancel and acknowledgement bodies are a few dozen bytes: anything longer is not decoded at all. */
const MAX_CONTROL_BYTES = 96;

export class EndpointServer<TEndpoint> {
  private readonly options: EndpointServerOptions<TEndpoint>;
  /** Streams in flight, by their requester's key (which only their requester can have made). */
  private readonly active = new Map<string, ServedStream<TEndpoint>>();
  private subs: Subscription[] = [];
  private controlSubs: Subscription[] = [];
  private readonly out: ResponsePublisher;
  private readonly stallTimeoutMs: number;
  /** Set while stopping, once the queue group is left: direct requests are answered `unavailable` from then on. */
  private lingering = false;
  private readonly lingerMs: number;
  private lastDirect = 0;
  private stopped: Promise<void> | undefined;
  private lastErrorText = '';
  private idle: (() => void) | undefined;
  /** The first error a subscription callback received (a permission violation closes the subscription). */
  private subscriptionError: Error | undefined;
  /** Handler failures: at warn with the stack, at most one line a minute per endpoint. */
  private readonly handlerFailures: RateLimitedLog;

  constructor(options: EndpointServerOptions<TEndpoint>) {
    this.options = options;
    this.handlerFailures = new RateLimitedLog(options.logger, 'warn');
    this.out = new ResponsePublisher(options.nc, options.instanceId, options.observer, options.logger);
    this.stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
    this.lingerMs = options.lingerMs ?? 1000;
  }

  /** The text of the last error this endpoint answered, for `$SRV.STATS` (`''` before any). */
  get lastError(): string {
    return this.lastErrorText;
  }

  get inflight(): number {
    return this.active.size;
  }

  get instanceSubject(): string {
    return instanceSubject(this.options.subject, this.options.instanceId);
  }

  async start(): Promise<void> {
    const { nc, subject, logger } = this.options;
    // No callback may throw: nats.js closes a subscription whose callback throws.
    const guarded =
      (what: string, handle: (msg: Msg) => void) =>
      (err: Error | null, msg: Msg): void => {
        if (err !== null) {
          this.subscriptionError ??= err;
          logger.warn('subscription error', { subject, error: err });
          return;
        }
        try {
          handle(msg);
        } catch (error) {
          logger.debug(`${what} dropped`, { subject, error });
        }
      };
    const onRequest = guarded('request', (msg) => this.onRequest(msg));
    this.subs = [nc.subscribe(subject, { queue: subject, callback: onRequest }), nc.subscribe(this.instanceSubject, { callback: onRequest })];
    this.controlSubs = [
      nc.subscribe(cancelSubject(subject), { callback: guarded('cancel', (msg) => this.onCancel(msg)) }),
      nc.subscribe(controlSubject(subject, this.options.instanceId), { callback: guarded('control message', (msg) => this.onControl(msg)) }),
    ];
    // The server has our subscriptions once this returns: requests sent afterwards are delivered.
    await flushSubscriptions(nc);
    // A subscription NATS refuses (permissions) is closed by then: say so now, not by silence.
    const refused = [...this.subs, ...this.controlSubs].find((sub) => sub.isClosed());
    if (refused !== undefined) {
      for (const sub of [...this.subs, ...this.controlSubs]) if (!sub.isClosed()) sub.unsubscribe();
      throw new DynamoError(
        ErrorCode.NatsPermission,
        `NATS refused the subscription to ${refused.getSubject()}: ${this.subscriptionError?.message ?? 'closed'}. An instance needs subscribe rights on dynamo.>, _DYN.> and $SRV.> (see examples/nats-permissions)`,
        { cause: this.subscriptionError },
      );
    }
    this.announce('join');
  }

  /** Tells the endpoint's callers to look again (they run a discovery round; the body is only informative). */
  private announce(what: 'join' | 'leave'): void {
    try {
      this.options.nc.publish(announceSubject(this.options.subject), `${what} ${this.options.instanceId}`);
    } catch (error) {
      this.options.logger.debug('announcement not sent', { subject: this.options.subject, error });
    }
  }

  /**
   * Stops taking requests without losing any (docs/operations.md, "Stopping"):
   * 1. the queue-group subscription is drained: NATS routes no new request here, and every
   *    request it already routed here is still delivered and served;
   * 2. for `lingerMs` the instance subscription stays, answering direct requests `unavailable`
   *    (nothing ran: the client retries elsewhere) while callers' directories learn of the leave
   *    and, in a cluster, every server learns the interest is gone; then it is drained too;
   * 3. in-flight requests finish, for what is left of `graceMs`; the rest end `shutting_down`.
   * Resolves when no request is left. Every caller gets the same promise.
   */
  stop(graceMs: number): Promise<void> {
    this.stopped ??= this.drainAndStop(graceMs);
    return this.stopped;
  }

  private async drainAndStop(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    const [queue, direct] = this.subs;
    this.announce('leave');
    await this.drain(queue, graceMs);
    this.lingering = true;
    this.lastDirect = Date.now();
    const lingerEnd = Math.min(Date.now() + this.lingerMs, deadline);
    // Until callers stop sending here (a quiet spell) or the linger is over.
    for (let now = Date.now(); now < lingerEnd && now - this.lastDirect < LINGER_QUIET_MS; now = Date.now()) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(lingerEnd - now, LINGER_QUIET_MS - (now - this.lastDirect))));
    }
    await this.drain(direct, Math.max(0, deadline - Date.now()));
    if (this.active.size > 0) {
      const drained = new Promise<void>((resolve) => (this.idle = resolve));
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), Math.max(0, deadline - Date.now()))));
      const timedOut = await Promise.race([drained.then(() => false), expired]);
      clearTimeout(timer);
      if (timedOut) {
        this.options.logger.warn('shutdown grace period over: aborting in-flight requests', { subject: this.options.subject, count: this.active.size });
        for (const stream of [...this.active.values()]) this.end(stream, RemoteErrorType.ShuttingDown, 'the endpoint shut down before the response stream finished', CancelReason.Shutdown);
        if (this.active.size > 0) await drained;
      }
    }
    for (const sub of this.controlSubs) sub.unsubscribe();
    // What the last streams published waits for the end of a turn (response-publisher.ts); the
    // runtime may close the connection before one comes.
    this.out.flush();
  }

  /**
   * Unsubscribing would drop what NATS already routed here; a drain delivers it. Bounded: while
   * NATS is reconnecting a drain waits for the connection.
   */
  private async drain(sub: Subscription | undefined, withinMs: number): Promise<void> {
    if (sub === undefined || sub.isClosed()) return;
    let timer: NodeJS.Timeout | undefined;
    const drained = sub.drain().catch((error: unknown) => this.options.logger.debug('drain failed', { subject: sub.getSubject(), error }));
    await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, withinMs)))]);
    clearTimeout(timer);
    if (!sub.isClosed()) sub.unsubscribe();
  }

  private onRequest(msg: Msg): void {
    const observer = this.options.observer;
    const reply = msg.reply ?? '';
    // nats.js makes a new view of the payload on every read of `msg.data`: read it once
    const data = msg.data;
    const parsed = parseRequest(data, reply, readHeaders(msg, REQUEST_LAYOUT), this.options.subject);
    if (parsed.ok && this.lingering && !this.active.has(parsed.key)) {
      this.lastDirect = Date.now();
      // Stopping: not taken, not counted; the caller retries on another instance.
      this.out.publishError(reply, RemoteErrorType.Unavailable, 'the instance is stopping and did not take the request', this.active.size);
      return;
    }
    const max = this.options.maxConcurrency;
    if (parsed.ok && max !== undefined && this.active.size >= max && !this.active.has(parsed.key)) {
      // Admission control: refused at once, before it is a request of this endpoint — not counted
      // as one, not an error; the caller retries once on another instance.
      observer.requestRefused?.();
      this.out.publishError(reply, RemoteErrorType.Overloaded, `the instance serves its limit of ${max} requests at once`, this.active.size);
      return;
    }
    const mark = observer.requestStarted(data.length);
    if (!parsed.ok) return this.refuse(mark, reply, parsed);
    if (this.active.has(parsed.key)) {
      // Only a replay of a request in flight can show its key: answering would inject into the real stream.
      return this.refuse(mark, reply, { ok: false, errorType: ErrorType.InvalidMessage, reason: 'a request with this key is in flight', answer: Answer.None });
    }
    const traced = this.options.tracer?.start(parsed.headers, parsed.requestId);
    const ctx = new LazyRequestContext(parsed.requestId, this.options.endpoint, this.options.instanceId, parsed.headers);
    const stream = new ServedStream(reply, parsed.key, parsed.window, ctx, mark, traced);
    this.active.set(parsed.key, stream);
    // The whole stream runs in the request's trace context: the handler and every step of its generator.
    if (traced === undefined) this.serve(stream, parsed.value);
    else traced.run(() => this.serve(stream, parsed.value));
  }

  /**
   * Calls the engine. A value it returns is answered at once (`answer`); a promise or a stream of
   * responses goes on asynchronously. Nothing here awaits: a synchronous handler's request is
   * served and over before this returns, without a promise made for it.
   */
  private serve(stream: ServedStream<TEndpoint>, request: unknown): void {
    let out: unknown;
    try {
      out = this.options.engine(request, stream.ctx);
    } catch (err) {
      return this.finish(stream, this.failed(stream, err, undefined));
    }
    if (isPromiseLike(out)) void this.settle(stream, out);
    else if (isStream(out)) void this.iterate(stream, out);
    else this.answer(stream, out);
  }

  /** A handler's promise: a value is answered like a returned one, a stream of responses is iterated. */
  private async settle(stream: ServedStream<TEndpoint>, work: PromiseLike<unknown>): Promise<void> {
    let out: unknown;
    try {
      out = await stream.orCancelled(work);
    } catch (err) {
      return this.finish(stream, this.failed(stream, err, undefined));
    }
    if (out === CANCELLED || stream.cancelled) this.finish(stream, undefined);
    else if (isStream(out)) await this.iterate(stream, out);
    else this.answer(stream, out);
  }

  /**
   * The handler's one value is the whole stream: one `last` message (or, for `undefined`, an `end`
   * with nothing before it). One clock read serves the time to the first response and the
   * request's duration: they end at the same moment.
   */
  private answer(stream: ServedStream<TEndpoint>, value: unknown): void {
    let failed: RequestOutcome | undefined;
    let end: number | undefined;
    try {
      if (value === undefined) {
        this.out.publishEnd(stream.reply, 0, undefined, this.active.size - 1);
      } else {
        this.out.publishLast(stream.reply, value, this.active.size - 1);
        end = this.options.observer.dataPublished(stream.mark, true, stream.traced?.sampled);
        stream.sent = 1;
        stream.traced?.firstResponse();
      }
    } catch (err) {
      failed = this.failed(stream, err, undefined);
    }
    this.finish(stream, failed, end);
  }

  /**
   * A stream of responses, published as the reader's credit allows, then its end. The handler's
   * steps are awaited as they are, not raced against a cancellation: a cancellation ends the
   * request at once (`end`), and a handler that never steps again leaves only this loop waiting
   * on it, with nothing left to do.
   */
  private async iterate(stream: ServedStream<TEndpoint>, out: ResponseSource): Promise<void> {
    const iterator = responsesOf(out);
    const observer = this.options.observer;
    let count = 0;
    let last = stream.mark;
    let final: unknown;
    let failed: RequestOutcome | undefined;
    // Responses and payload bytes since the loop last gave the event loop a turn.
    let sinceTurn = 0;
    let bytesSinceTurn = 0;
    try {
      for (;;) {
        const step = await iterator.next();
        if (stream.cancelled) break;
        if (step.done === true) {
          final = step.value;
          break;
        }
        if (stream.blocked) {
          const credit = await stream.waitForCredit(this.stallTimeoutMs);
          if (credit === 'stalled') {
            this.options.logger.debug('stream abandoned: no acknowledgement from its reader', { request_id: stream.ctx.requestId, stall_ms: this.stallTimeoutMs });
            this.end(stream, RemoteErrorType.Cancelled, `no acknowledgement from the reader for ${this.stallTimeoutMs} ms: the stream was abandoned`, CancelReason.Stall);
          }
          if (credit !== 'credit') break;
          sinceTurn = bytesSinceTurn = 0;
        } else if (sinceTurn >= TURN_RESPONSES || bytesSinceTurn >= TURN_BYTES) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          sinceTurn = bytesSinceTurn = 0;
        }
        if (stream.cancelled) break;
        bytesSinceTurn += this.out.publishData(stream.reply, step.value, count);
        sinceTurn++;
        last = observer.dataPublished(last, count === 0, count === 0 ? stream.traced?.sampled : undefined);
        stream.sent = ++count;
        if (count === 1) stream.traced?.firstResponse();
      }
      if (stream.cancelled) void iterator.return?.()?.catch(() => {});
      else this.out.publishEnd(stream.reply, count, final, this.active.size - 1);
    } catch (err) {
      failed = this.failed(stream, err, iterator);
    } finally {
      this.finish(stream, failed);
    }
  }

  /**
   * Counts and answers a request that failed, unless it was cancelled (a cancellation is never also
   * an error); stops its iterator. Returns the outcome for the span.
   */
  private failed(stream: ServedStream<TEndpoint>, err: unknown, iterator: AsyncIterator<unknown, unknown> | undefined): RequestOutcome | undefined {
    if (iterator !== undefined) void iterator.return?.()?.catch(() => {});
    if (stream.cancelled) return undefined;
    const type = err instanceof FinalFailure ? ErrorType.PublishFinal : err instanceof PublishFailure ? ErrorType.PublishResponse : ErrorType.Generate;
    this.options.observer.error(type);
    this.lastErrorText = `${type}: ${errorText(err)}`.slice(0, 1024);
    if (type === ErrorType.Generate) {
      this.handlerFailures.write('handler failed', () => ({ subject: this.options.subject, request_id: stream.ctx.requestId, error: err, stack: err instanceof Error ? err.stack : undefined }));
    } else {
      this.options.logger.debug('request failed', { request_id: stream.ctx.requestId, error_type: type, error: err });
    }
    this.out.publishError(stream.reply, type, errorText(err), this.active.size - 1);
    return { kind: 'error', errorType: type };
  }

  /**
   * The request is over: the only place a request that reached the engine ends, once, whichever
   * path gets here first (its own, or a cancellation). `endMark`: the clock read the last response
   * already made, when the stream ended with it.
   */
  private finish(stream: ServedStream<TEndpoint>, failed: RequestOutcome | undefined, endMark?: number): void {
    if (stream.finished) return;
    stream.finished = true;
    this.active.delete(stream.key);
    const traced = stream.traced;
    this.options.observer.requestEnded(stream.mark, traced?.sampled, failed?.kind === 'error' ? (failed.errorType as ErrorType) : undefined, endMark);
    // The span ends with the stream, classified as the metrics counted it: a cancellation is not an error.
    traced?.end(stream.cancelled ? { kind: 'cancelled', reason: stream.ctx.cancellation ?? CancelReason.Client } : (failed ?? OK));
    if (this.active.size === 0 && this.idle !== undefined) this.idle();
  }

  /** Ends a request that never reached the engine: counted, and answered as `parseRequest` decided. */
  private refuse(mark: number, reply: string, refused: RefusedRequest): void {
    this.options.observer.error(refused.errorType);
    this.lastErrorText = `${refused.errorType}: ${refused.reason}`;
    this.options.logger.debug('request refused', { error_type: refused.errorType, reason: refused.reason });
    if (refused.answer !== Answer.None) this.out.publishError(reply, refused.errorType, refused.reason, this.active.size, refused.answer === Answer.Proven);
    this.options.observer.requestEnded(mark, undefined, refused.errorType);
  }

  /**
   * Ends a stream the server gives up on — or its requester cancelled — with a terminal message,
   * so whoever reads it is told at once instead of waiting out a timeout, and ends the request
   * there and then. Counted once, as a cancellation for `reason`, never as an `error_type`: from
   * here on the stream is cancelled and no error is counted for it, whatever the handler or a
   * publish does.
   */
  private end(stream: ServedStream<TEndpoint>, type: string, message: string, reason: CancelReason): void {
    if (stream.cancelled) return;
    stream.ctx.cancellation = reason;
    stream.cancel(type);
    this.options.observer.cancelled(reason);
    this.out.publishError(stream.reply, type, message, this.active.size - 1);
    this.finish(stream, undefined);
  }

  /** On the instance's control subject: an acknowledgement (`<key> <consumed>`) or a cancel (the secret). */
  private onControl(msg: Msg): void {
    if (msg.data.indexOf(0x20) < 0) this.onCancel(msg);
    else this.onAck(msg);
  }

  /** Body: the request's secret. Only the requester has it; its key names the stream. */
  private onCancel(msg: Msg): void {
    if (msg.data.length > MAX_CONTROL_BYTES) return;
    const secret = msg.string();
    if (!TOKEN_RE.test(secret)) return;
    const stream = this.active.get(keyOf(secret));
    if (stream !== undefined) this.end(stream, RemoteErrorType.Cancelled, 'the request was cancelled by its requester', CancelReason.Client);
  }

  /** Body: `<key> <consumed>`. Clamped to what was sent (ServedStream.ack). */
  private onAck(msg: Msg): void {
    if (msg.data.length > MAX_CONTROL_BYTES) return;
    const ack = parseAck(msg.string());
    if (ack === undefined) return;
    this.active.get(ack.key)?.ack(ack.consumed);
  }
}
