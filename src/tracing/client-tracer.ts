/**
 * The CLIENT span of each `generate()`: from the request sent until its stream ends, fails or is
 * cancelled. Its context — not the caller's — goes into the request's headers through the global
 * propagator, so the server's span is its child; `tracestate` and baggage of the caller's context
 * travel with it unchanged.
 */
import { context, propagation, SpanKind, trace, type Context, type Span, type TextMapSetter, type Tracer } from '@opentelemetry/api';
import type { MsgHdrs } from '@nats-io/transport-node';
import type { ClientRequestTrace, ClientTracer, RequestOutcome } from '../transport/request-tracing.ts';
import { TracingFailures } from './never-throw.ts';
import { Attr, FIRST_RESPONSE_EVENT } from './semconv.ts';
import { endSpan, hasTrace, type EndpointSpanNames } from './server-tracer.ts';

export class EndpointClientTracer implements ClientTracer {
  private readonly tracer: Tracer;
  private readonly names: EndpointSpanNames;
  private readonly failures: TracingFailures;
  /** Fields the propagator wrote in the current `start` (synchronous: one counter serves every request). */
  private written = 0;
  private readonly setter: TextMapSetter<MsgHdrs> = {
    set: (carrier, key, value) => {
      carrier.set(key, value);
      this.written++;
    },
  };

  /** True while tracing is unconfigured (unconfigured.ts): then no request has a trace or context to send. */
  private readonly unconfigured: () => boolean;

  constructor(tracer: Tracer, names: EndpointSpanNames, unconfigured: () => boolean = () => false) {
    this.tracer = tracer;
    this.names = names;
    this.unconfigured = unconfigured;
    this.failures = new TracingFailures(`${names.method} (client)`);
  }

  quiet(): boolean {
    return this.unconfigured();
  }

  start(headers: MsgHdrs, requestId: string, parent: unknown): ClientRequestTrace {
    if (this.unconfigured()) return UNTRACED;
    let span: Span | undefined;
    try {
      const caller = (parent as Context | undefined) ?? context.active();
      span = this.tracer.startSpan(this.names.method, { kind: SpanKind.CLIENT, attributes: this.names.attributes }, caller);
      const traced = hasTrace(span.spanContext());
      // With no span worth carrying (no SDK), the caller's own context still goes out: a propagator
      // registered without a tracer (baggage only, say) keeps working.
      this.written = 0;
      propagation.inject(traced ? trace.setSpan(caller, span) : caller, headers, this.setter);
      if (!traced) return this.written > 0 ? UNTRACED_INJECTED : UNTRACED;
      if (span.isRecording()) span.setAttribute(Attr.RequestId, requestId);
      return new ClientTrace(span, this.failures, this.written > 0);
    } catch (error) {
      this.failures.report('starting a span', error);
      // A span that started before the failure still ends (as a plain span), so no processor keeps it open.
      return span === undefined ? UNTRACED_INJECTED : new ClientTrace(span, this.failures, true);
    }
  }
}

/** No span to end (the API's no-op one): one shared object. */
const UNTRACED: ClientRequestTrace = Object.freeze({ injected: false, firstResponse: () => {}, end: () => {} });
/** No span, but the propagator wrote the caller's context (baggage, say), or may have before it failed. */
const UNTRACED_INJECTED: ClientRequestTrace = Object.freeze({ injected: true, firstResponse: () => {}, end: () => {} });

class ClientTrace implements ClientRequestTrace {
  readonly injected: boolean;
  private readonly span: Span;
  private ended = false;
  private readonly failures: TracingFailures;

  constructor(span: Span, failures: TracingFailures, injected: boolean) {
    this.span = span;
    this.failures = failures;
    this.injected = injected;
  }

  firstResponse(): void {
    try {
      if (this.span.isRecording()) this.span.addEvent(FIRST_RESPONSE_EVENT);
    } catch (error) {
      this.failures.report('marking the first response', error);
    }
  }

  end(outcome: RequestOutcome): void {
    if (this.ended) return;
    this.ended = true;
    try {
      endSpan(this.span, outcome);
    } catch (error) {
      this.failures.report('ending a span', error);
    }
  }
}
