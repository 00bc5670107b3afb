/**
 * The SERVER span of each request an endpoint serves: from the request taken off the wire to its
 * last response published. Its parent is the context the caller sent (extracted through the global
 * propagator); the whole stream — the handler, every step of a generator — runs inside it, so the
 * application's own spans and auto-instrumented calls nest under it.
 *
 * With no SDK registered the span is the API's non-recording one and no context is entered: the
 * cost is one extract (a no-op) and one small object per request.
 */
import { context, INVALID_SPAN_CONTEXT, isSpanContextValid, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Context, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import type { RequestOutcome, ServerRequestTrace, ServerTracer, TraceIds } from '../transport/request-tracing.ts';
import type { HeaderBlock } from '../transport/header-block.ts';
import { natsHeaderGetter } from './nats-carrier.ts';
import { TracingFailures } from './never-throw.ts';
import { Attr, FIRST_RESPONSE_EVENT } from './semconv.ts';

export interface EndpointSpanNames {
  /** The span name and `rpc.method`. */
  readonly method: string;
  /** Set on every span at its start (what a sampler sees). */
  readonly attributes: Attributes;
}

export class EndpointServerTracer implements ServerTracer {
  private readonly tracer: Tracer;
  private readonly names: EndpointSpanNames;
  private readonly failures: TracingFailures;

  /** True while tracing is unconfigured (unconfigured.ts): then no request has a trace. */
  private readonly unconfigured: () => boolean;

  constructor(tracer: Tracer, names: EndpointSpanNames, unconfigured: () => boolean = () => false) {
    this.tracer = tracer;
    this.names = names;
    this.unconfigured = unconfigured;
    this.failures = new TracingFailures(`${names.method} (server)`);
  }

  start(headers: HeaderBlock | undefined, requestId: string): ServerRequestTrace {
    if (this.unconfigured()) return UNTRACED;
    let parent: Context = ROOT_CONTEXT;
    try {
      parent = propagation.extract(ROOT_CONTEXT, headers, natsHeaderGetter);
    } catch (error) {
      // A propagator that throws on what a peer sent must not cost the request: it starts a trace of its own.
      this.failures.report('extracting the caller\'s context', error);
    }
    try {
      const span = this.tracer.startSpan(this.names.method, { kind: SpanKind.SERVER, attributes: this.names.attributes }, parent);
      // No SDK and no incoming context: nothing to record, carry or end — one shared object, no context entered.
      if (parent === ROOT_CONTEXT && !hasTrace(span.spanContext())) return UNTRACED;
      if (span.isRecording()) span.setAttribute(Attr.RequestId, requestId);
      return new ServerTrace(span, parent, this.failures);
    } catch (error) {
      this.failures.report('starting a span', error);
      return UNTRACED;
    }
  }
}

/** Whether a span context is one worth carrying; the API's no-op span shares one invalid context, told apart without a regex. */
export function hasTrace(ids: SpanContext): boolean {
  return ids !== INVALID_SPAN_CONTEXT && isSpanContextValid(ids);
}

/** The trace of every request when there is none: the stream runs as it would without tracing. */
const UNTRACED: ServerRequestTrace = Object.freeze({
  sampled: undefined,
  run: <T>(stream: () => T): T => stream(),
  firstResponse: () => {},
  end: () => {},
});

class ServerTrace implements ServerRequestTrace {
  readonly sampled: TraceIds | undefined;
  private readonly span: Span;
  /** The context the stream runs in; undefined when there is no trace to carry (no SDK, no incoming context). */
  private readonly active: Context | undefined;
  private readonly failures: TracingFailures;

  constructor(span: Span, parent: Context, failures: TracingFailures) {
    this.span = span;
    this.failures = failures;
    const ids = span.spanContext();
    this.sampled = (ids.traceFlags & TraceFlags.SAMPLED) !== 0 ? ids : undefined;
    // A non-recording span still carries a valid context when the SDK sampled it out: its children
    // must learn that, so it is entered too. Only an invalid one (no SDK) is not worth a context.
    this.active = hasTrace(ids) ? trace.setSpan(parent, span) : parent === ROOT_CONTEXT ? undefined : parent;
  }

  run<T>(stream: () => T): T {
    if (this.active === undefined) return stream();
    let entered = false;
    try {
      return context.with(this.active, () => {
        entered = true;
        return stream();
      });
    } catch (error) {
      // The stream runs exactly once: untraced when the context manager itself failed before it.
      if (entered) throw error;
      this.failures.report("entering the span's context", error);
      return stream();
    }
  }

  firstResponse(): void {
    try {
      if (this.span.isRecording()) this.span.addEvent(FIRST_RESPONSE_EVENT);
    } catch (error) {
      this.failures.report('marking the first response', error);
    }
  }

  end(outcome: RequestOutcome): void {
    try {
      endSpan(this.span, outcome);
    } catch (error) {
      this.failures.report('ending a span', error);
    }
  }
}

/** Status and attributes from the outcome, classified as the metrics count it; then the span ends. */
export function endSpan(span: Span, outcome: RequestOutcome): void {
  if (span.isRecording()) {
    if (outcome.kind === 'error') {
      span.setAttribute(Attr.ErrorType, outcome.errorType);
      span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.errorType });
    } else if (outcome.kind === 'cancelled') {
      span.setAttribute(Attr.CancellationReason, outcome.reason);
    }
  }
  span.end();
}
