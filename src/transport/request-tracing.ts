/**
 * What the request plane tells tracing, and nothing more: transport never imports OpenTelemetry.
 * The runtime plugs in implementations (src/tracing/) that make the spans and carry the context
 * in the request's headers; without them the request plane runs exactly as before.
 */
import type { MsgHdrs } from '@nats-io/transport-node';
import type { CancelReason } from '../metrics/names.ts';
import type { HeaderBlock } from './header-block.ts';

/** How a request ended, classified as the metrics count it. */
export type RequestOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'error'; readonly errorType: string }
  | { readonly kind: 'cancelled'; readonly reason: CancelReason };

/** The one `ok` outcome: nothing is allocated for a request that succeeds. */
export const OK: RequestOutcome = Object.freeze({ kind: 'ok' });

/** The ids of a sampled span: the duration histogram keeps them as an exemplar. */
export interface TraceIds {
  readonly traceId: string;
  readonly spanId: string;
}

/** The server's side of one request's trace. */
export interface ServerRequestTrace {
  /** Runs `stream` (the whole response stream: the handler and every step of it) inside the request's trace context. */
  run<T>(stream: () => T): T;
  /** The first response was published. */
  firstResponse(): void;
  /** The stream is over (its last message published). Called exactly once. */
  end(outcome: RequestOutcome): void;
  /** Set when the request's span is sampled. */
  readonly sampled: TraceIds | undefined;
}

/** Makes the server's trace of each request, from the headers it arrived with. */
export interface ServerTracer {
  start(headers: HeaderBlock | undefined, requestId: string): ServerRequestTrace;
}

/** The caller's side of one request's trace. */
export interface ClientRequestTrace {
  /** Whether the propagator wrote into the request's headers (then their block is checked against the limits). */
  readonly injected: boolean;
  /** The first response arrived. */
  firstResponse(): void;
  /** The stream is over for the caller. Called exactly once. */
  end(outcome: RequestOutcome): void;
}

/** Makes the caller's trace of each request and writes its context into the request's headers. */
export interface ClientTracer {
  /** True when `start` would make no span and write nothing (tracing unconfigured): the request needs no trace. */
  quiet(): boolean;
  /** `parent`: the caller's context (`GenerateOptions.context`), else the active one. */
  start(headers: MsgHdrs, requestId: string, parent: unknown): ClientRequestTrace;
}
