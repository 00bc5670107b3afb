/**
 * Serves one endpoint on NATS: subscribes its subject (queue group shared by all instances), its
 * instance subject, its cancel subject and its control subject; takes each request
 * `parseRequest` accepts, or refuses it, and hands it to the `RequestRunner`, which runs it to its
 * end; routes acknowledgements and cancels to the streams they name; and stops without losing a
 * request (`stop`).
 *
 * Invariant: for every message taken off the wire, `requestStarted` is called once, then the
 * runner ends it exactly once (request-runner.ts).
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { DynamoError, ErrorCode } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { CancelReason, ErrorType } from '../metrics/names.ts';
import { readHeaders } from './message-headers.ts';
import { REQUEST_LAYOUT } from './request-header-block.ts';
import { flushSubscriptions } from './nats-connection.ts';
import { announceSubject, cancelSubject, controlSubject, instanceSubject, parseAck, RemoteErrorType, TOKEN_RE } from './protocol.ts';
import { LazyRequestContext } from './request-context.ts';
import { Answer, parseRequest } from './request-parser.ts';
import { RequestRunner, type RequestObserver, type ServerEngine } from './request-runner.ts';
import type { ServerTracer } from './request-tracing.ts';
import { keyOf } from './request-secret.ts';
import { ResponsePublisher } from './response-publisher.ts';
import { ServedStream } from './served-stream.ts';

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

/** A stopping instance stops lingering once no direct request has come for this long. */
const LINGER_QUIET_MS = 250;

/** Cancel and acknowledgement bodies are a few dozen bytes: anything longer is not decoded at all. */
const MAX_CONTROL_BYTES = 96;

export class EndpointServer<TEndpoint> {
  private readonly options: EndpointServerOptions<TEndpoint>;
  private readonly runner: RequestRunner<TEndpoint>;
  /** Streams in flight, by their requester's key: the runner's, which alone adds and removes them. */
  private readonly active: ReadonlyMap<string, ServedStream<TEndpoint>>;
  private subs: Subscription[] = [];
  private controlSubs: Subscription[] = [];
  private readonly out: ResponsePublisher;
  /** Set while stopping, once the queue group is left: direct requests are answered `unavailable` from then on. */
  private lingering = false;
  private readonly lingerMs: number;
  private lastDirect = 0;
  private stopped: Promise<void> | undefined;
  /** The first error a subscription callback received (a permission violation closes the subscription). */
  private subscriptionError: Error | undefined;

  constructor(options: EndpointServerOptions<TEndpoint>) {
    this.options = options;
    this.out = new ResponsePublisher(options.nc, options.instanceId, options.observer, options.logger);
    this.runner = new RequestRunner({
      subject: options.subject,
      engine: options.engine,
      observer: options.observer,
      out: this.out,
      logger: options.logger,
      stallTimeoutMs: options.stallTimeoutMs ?? 60_000,
    });
    this.active = this.runner.active;
    this.lingerMs = options.lingerMs ?? 1000;
  }

  /** The text of the last error this endpoint answered, for `$SRV.STATS` (`''` before any). */
  get lastError(): string {
    return this.runner.lastError;
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
      const drained = new Promise<void>((resolve) => (this.runner.onIdle = resolve));
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), Math.max(0, deadline - Date.now()))));
      const timedOut = await Promise.race([drained.then(() => false), expired]);
      clearTimeout(timer);
      if (timedOut) {
        this.options.logger.warn('shutdown grace period over: aborting in-flight requests', { subject: this.options.subject, count: this.active.size });
        for (const stream of [...this.active.values()]) this.runner.end(stream, RemoteErrorType.ShuttingDown, 'the endpoint shut down before the response stream finished', CancelReason.Shutdown);
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
    if (!parsed.ok) return this.runner.refuse(mark, reply, parsed);
    if (this.active.has(parsed.key)) {
      // Only a replay of a request in flight can show its key: answering would inject into the real stream.
      return this.runner.refuse(mark, reply, { ok: false, errorType: ErrorType.InvalidMessage, reason: 'a request with this key is in flight', answer: Answer.None });
    }
    const traced = this.options.tracer?.start(parsed.headers, parsed.requestId);
    const ctx = new LazyRequestContext(parsed.requestId, this.options.endpoint, this.options.instanceId, parsed.headers);
    const stream = new ServedStream(reply, parsed.key, parsed.window, ctx, mark, traced);
    // The whole stream runs in the request's trace context: the handler and every step of its generator.
    if (traced === undefined) this.runner.serve(stream, parsed.value);
    else traced.run(() => this.runner.serve(stream, parsed.value));
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
    if (stream !== undefined) this.runner.end(stream, RemoteErrorType.Cancelled, 'the request was cancelled by its requester', CancelReason.Client);
  }

  /** Body: `<key> <consumed>`. Clamped to what was sent (ServedStream.ack). */
  private onAck(msg: Msg): void {
    if (msg.data.length > MAX_CONTROL_BYTES) return;
    const ack = parseAck(msg.string());
    if (ack === undefined) return;
    this.active.get(ack.key)?.ack(ack.consumed);
  }
}
