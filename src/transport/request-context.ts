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
}

/**
 * The `AbortController` is made only when a handler reads `signal` or the request is cancelled:
 * most requests never need one, and making one per request is the costliest thing on the path.
 */
export class LazyRequestContext<TEndpoint> implements RequestContext<TEndpoint> {
  readonly requestId: string;
  readonly endpoint: TEndpoint;
  readonly instanceId: string;
  private controller: AbortController | undefined;
  private abortedReason: unknown;
  private aborted = false;

  constructor(requestId: string, endpoint: TEndpoint, instanceId: string) {
    this.requestId = requestId;
    this.endpoint = endpoint;
    this.instanceId = instanceId;
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
