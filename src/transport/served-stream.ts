/**
 * The server's state of one response stream: where it goes, how far its reader has acknowledged,
 * whether it was cancelled — and the two waits a stream can be in (for the handler, for credit),
 * which a cancellation or an acknowledgement ends.
 */
import type { LazyRequestContext } from './request-context.ts';
import type { ServerRequestTrace } from './request-tracing.ts';

export const CANCELLED = Symbol('cancelled');

export class ServedStream<TEndpoint> {
  readonly reply: string;
  /** The requester's key: the stream's identity on this instance. */
  readonly key: string;
  readonly ctx: LazyRequestContext<TEndpoint>;
  /** Data messages the requester takes before it must acknowledge. */
  readonly window: number;
  /** The observer's start mark of the request. */
  readonly mark: number;
  /** The request's trace, when tracing is on. */
  readonly traced: ServerRequestTrace | undefined;
  /** Set once the request has ended (metrics and span): it ends once, whoever gets there first. */
  finished = false;
  /** Data messages published. */
  sent = 0;
  /** Data messages the requester acknowledged as consumed; never more than `sent`. */
  acked = 0;
  cancelled = false;
  /**
   * When the reader last acknowledged (a heartbeat counts): the stall timeout runs from here. Set
   * when a wait for credit begins, so a request that never waits never reads the clock for it.
   */
  private lastHeard = 0;
  /** Ends a wait for the engine early: on cancel. */
  private wake: (() => void) | undefined;
  /** Ends a wait for credit: on an ack, or on cancel. */
  private wakeCredit: (() => void) | undefined;

  constructor(reply: string, key: string, window: number, ctx: LazyRequestContext<TEndpoint>, mark: number, traced: ServerRequestTrace | undefined) {
    this.reply = reply;
    this.key = key;
    this.window = window;
    this.ctx = ctx;
    this.mark = mark;
    this.traced = traced;
  }

  /** Whether the window is full: the next data message must wait for an acknowledgement. */
  get blocked(): boolean {
    return this.sent - this.acked >= this.window;
  }

  /**
   * Takes an acknowledgement. It is clamped to what was sent: a reader cannot acknowledge
   * messages it has not been sent, so no acknowledgement — forged or confused — opens more than
   * one window ahead of what was really published.
   */
  ack(consumed: number): void {
    this.lastHeard = Date.now();
    const clamped = Math.min(consumed, this.sent);
    if (clamped <= this.acked) return;
    this.acked = clamped;
    this.wakeCredit?.();
  }

  /** Marks the stream cancelled and ends whatever it waits for. False when it already was. */
  cancel(reason: string): boolean {
    if (this.cancelled) return false;
    this.cancelled = true;
    this.ctx.abort(new Error(reason));
    this.wake?.();
    this.wakeCredit?.();
    return true;
  }

  /**
   * Whatever the engine's promise awaits, a cancellation ends the wait: a handler that never
   * settles still lets its request end (and in-flight go down) when the client gives up. A fresh
   * promise per wait — racing one long-lived promise would pile a reaction onto it per wait.
   */
  orCancelled<T>(work: PromiseLike<T>): Promise<T | typeof CANCELLED> {
    if (this.cancelled) return Promise.resolve(CANCELLED);
    return new Promise<T | typeof CANCELLED>((resolve, reject) => {
      this.wake = () => resolve(CANCELLED);
      work.then(resolve, reject);
    });
  }

  /**
   * Waits until the reader acknowledges enough to open the window again, the stream is
   * cancelled, or the reader stays silent — not even a heartbeat — for `stallMs`.
   */
  async waitForCredit(stallMs: number): Promise<'credit' | 'cancelled' | 'stalled'> {
    this.lastHeard = Date.now();
    while (!this.cancelled && this.blocked) {
      const left = this.lastHeard + stallMs - Date.now();
      if (left <= 0) return 'stalled';
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wakeCredit = resolve;
        timer = setTimeout(resolve, left);
      });
      this.wakeCredit = undefined;
      clearTimeout(timer);
    }
    return this.cancelled ? 'cancelled' : 'credit';
  }
}
