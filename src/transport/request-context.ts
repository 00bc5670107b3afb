import type { CancelReason } from '../metrics/names.ts';
import type { HeaderBlock } from './header-block.ts';

/**
 * The headers a request arrived with, read-only. Names match case-insensitively. They include the
 * protocol's own (`Dynamo-*`) and the trace context (`traceparent`, `tracestate`, `baggage`).
 */
export interface RequestHeaders {
  /** The first value of header `name`, or undefined when it is absent. */
  get(name: string): string | undefined;
  /** Every value of header `name`, in order; empty when it is absent. */
  values(name: string): readonly string[];
  /** Whether header `name` is present. */
  has(name: string): boolean;
  /** The header names, as sent. */
  keys(): readonly string[];
}

/** What a handler receives besides the request. */
export interface RequestContext<TEndpoint = unknown> {
  /** The id the client gave the request (unique per client). */
  readonly requestId: string;
  /** Aborts when the client cancels, times out or goes away, or when shutdown's grace period ends. */
  readonly signal: AbortSignal;
  /** The endpoint serving the request. */
  readonly endpoint: TEndpoint;
  /** The instance (runtime) serving the request. */
  readonly instanceId: string;
  /** The request's headers (the caller's `generate(…, { headers })`, the trace context, the protocol's), read-only. */
  readonly headers: RequestHeaders;
}

const NO_HEADERS: RequestHeaders = Object.freeze({
  get: () => undefined,
  values: () => [],
  has: () => false,
  keys: () => [],
});

/** A read-only view: the handler cannot change what tracing and the server read. */
class HeaderView implements RequestHeaders {
  private readonly h: HeaderBlock;

  constructor(h: HeaderBlock) {
    this.h = h;
  }

  get(name: string): string | undefined {
    return this.h.values(name, true)[0];
  }

  values(name: string): readonly string[] {
    return this.h.values(name, true);
  }

  has(name: string): boolean {
    return this.h.has(name, true);
  }

  keys(): readonly string[] {
    return this.h.keys();
  }
}

/**
 * The `AbortController` is made only when a handler reads `signal` or the request is cancelled:
 * most requests never need one, and making one per request is the costliest thing on the path.
 * The same goes for the headers' view.
 */
export class LazyRequestContext<TEndpoint> implements RequestContext<TEndpoint> {
  readonly requestId: string;
  readonly endpoint: TEndpoint;
  readonly instanceId: string;
  /** Why the request was cancelled, once it was. */
  cancellation: CancelReason | undefined;
  private readonly rawHeaders: HeaderBlock | undefined;
  private headerView: RequestHeaders | undefined;
  private controller: AbortController | undefined;
  private abortedReason: unknown;
  private aborted = false;

  constructor(requestId: string, endpoint: TEndpoint, instanceId: string, headers?: HeaderBlock) {
    this.requestId = requestId;
    this.endpoint = endpoint;
    this.instanceId = instanceId;
    this.rawHeaders = headers;
  }

  get headers(): RequestHeaders {
    this.headerView ??= this.rawHeaders === undefined ? NO_HEADERS : new HeaderView(this.rawHeaders);
    return this.headerView;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortedReason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortedReason = reason;
    this.controller?.abort(reason);
  }
}
