/**
 * Runs the requests an endpoint took off the wire: calls the engine, publishes what it returns —
 * one value as one message, a stream of responses as its reader's credit allows — and ends each
 * request once. It reports every step to a `RequestObserver` (the endpoint's metrics) and knows
 * nothing about what the observer does with it.
 *
 * Invariant: for every request taken (`requestStarted`), `requestEnded` is called exactly once —
 * in `finish()` (guarded: it runs once per stream) or at the end of `refuse()` — on every path.
 */
import type { Logger } from '../logging/logger.ts';
import { RateLimitedLog } from '../logging/rate-limited.ts';
import type { PublishClock } from '../metrics/endpoint-recorder.ts';
import { CancelReason, ErrorType } from '../metrics/names.ts';
import { errorText, isPromiseLike, isStream, responsesOf, type ResponseSource } from './engine-output.ts';
import { DEFAULT_WINDOW, RemoteErrorType } from './protocol.ts';
import type { LazyRequestContext } from './request-context.ts';
import { Answer, type RefusedRequest } from './request-parser.ts';
import { OK, type RequestOutcome, type TraceIds } from './request-tracing.ts';
import { FinalFailure, PublishFailure, type ResponsePublisher } from './response-publisher.ts';
import { CANCELLED, type ServedStream } from './served-stream.ts';

export interface RequestObserver {
  requestStarted(requestBytes: number): number;
  responsePublished(bytes: number): void;
  /**
   * A data message was published: `since` is the request's start mark for its first one, else the
   * mark returned for the previous one. Returns this message's mark, read from `clock`: the
   * publisher's, which knows which messages leave together. `sampled`: the request's span, when
   * sampled — for the first one (the time to first response keeps it as an exemplar).
   */
  dataPublished(since: number, first: boolean, clock: PublishClock, sampled?: TraceIds): number;
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

export interface RequestRunnerOptions<TEndpoint> {
  /** The endpoint's subject, for the logs. */
  subject: string;
  engine: ServerEngine<TEndpoint>;
  observer: RequestObserver;
  out: ResponsePublisher;
  logger: Logger;
  /** A stream waiting this long for its reader to acknowledge is ended as abandoned, in ms. */
  stallTimeoutMs: number;
}

export class RequestRunner<TEndpoint> {
  /** Streams in flight, by their requester's key (which only their requester can have made). */
  readonly active = new Map<string, ServedStream<TEndpoint>>();
  /** The text of the last error answered, for `$SRV.STATS` (`''` before any). */
  lastError = '';
  /** Called each time the last request in flight ends. */
  onIdle: (() => void) | undefined;
  private readonly subject: string;
  private readonly engine: ServerEngine<TEndpoint>;
  private readonly observer: RequestObserver;
  private readonly out: ResponsePublisher;
  private readonly logger: Logger;
  private readonly stallTimeoutMs: number;
  /** Handler failures: at warn with the stack, at most one line a minute per endpoint. */
  private readonly handlerFailures: RateLimitedLog;

  constructor(options: RequestRunnerOptions<TEndpoint>) {
    this.subject = options.subject;
    this.engine = options.engine;
    this.observer = options.observer;
    this.out = options.out;
    this.logger = options.logger;
    this.stallTimeoutMs = options.stallTimeoutMs;
    this.handlerFailures = new RateLimitedLog(options.logger, 'warn');
  }

  /**
   * Takes a request in flight and calls the engine. A value it returns is answered at once
   * (`answer`); a promise or a stream of responses goes on asynchronously. Nothing here awaits: a
   * synchronous handler's request is served and over before this returns, without a promise made
   * for it.
   */
  serve(stream: ServedStream<TEndpoint>, request: unknown): void {
    this.active.set(stream.key, stream);
    let out: unknown;
    try {
      out = this.engine(request, stream.ctx);
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
        end = this.observer.dataPublished(stream.mark, true, this.out.clock, stream.traced?.sampled);
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
    const observer = this.observer;
    const clock = this.out.clock;
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
            this.logger.debug('stream abandoned: no acknowledgement from its reader', { request_id: stream.ctx.requestId, stall_ms: this.stallTimeoutMs });
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
        last = observer.dataPublished(last, count === 0, clock, count === 0 ? stream.traced?.sampled : undefined);
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
    this.observer.error(type);
    this.lastError = `${type}: ${errorText(err)}`.slice(0, 1024);
    if (type === ErrorType.Generate) {
      this.handlerFailures.write('handler failed', () => ({ subject: this.subject, request_id: stream.ctx.requestId, error: err, stack: err instanceof Error ? err.stack : undefined }));
    } else {
      this.logger.debug('request failed', { request_id: stream.ctx.requestId, error_type: type, error: err });
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
    this.observer.requestEnded(stream.mark, traced?.sampled, failed?.kind === 'error' ? (failed.errorType as ErrorType) : undefined, endMark);
    // The span ends with the stream, classified as the metrics counted it: a cancellation is not an error.
    traced?.end(stream.cancelled ? { kind: 'cancelled', reason: stream.ctx.cancellation ?? CancelReason.Client } : (failed ?? OK));
    if (this.active.size === 0) this.onIdle?.();
  }

  /** Ends a request that never reached the engine: counted, and answered as `parseRequest` decided. */
  refuse(mark: number, reply: string, refused: RefusedRequest): void {
    this.observer.error(refused.errorType);
    this.lastError = `${refused.errorType}: ${refused.reason}`;
    this.logger.debug('request refused', { error_type: refused.errorType, reason: refused.reason });
    if (refused.answer !== Answer.None) this.out.publishError(reply, refused.errorType, refused.reason, this.active.size, refused.answer === Answer.Proven);
    this.observer.requestEnded(mark, undefined, refused.errorType);
  }

  /**
   * Ends a stream the server gives up on — or its requester cancelled — with a terminal message,
   * so whoever reads it is told at once instead of waiting out a timeout, and ends the request
   * there and then. Counted once, as a cancellation for `reason`, never as an `error_type`: from
   * here on the stream is cancelled and no error is counted for it, whatever the handler or a
   * publish does.
   */
  end(stream: ServedStream<TEndpoint>, type: string, message: string, reason: CancelReason): void {
    if (stream.cancelled) return;
    stream.ctx.cancellation = reason;
    stream.cancel(type);
    this.observer.cancelled(reason);
    this.out.publishError(stream.reply, type, message, this.active.size - 1);
    this.finish(stream, undefined);
  }
}
