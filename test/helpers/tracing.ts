/**
 * A real OpenTelemetry trace SDK for tests: the AsyncLocalStorage context manager and the default
 * W3C composite propagator registered globally (what `NodeSDK` does), and one in-memory exporter
 * per runtime, so each "process" of a test keeps its own finished spans.
 */
import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type Sampler } from '@opentelemetry/sdk-trace-base';

let installed = false;

/** Registers the context manager and the propagator once per test process. */
export function installTraceGlobals(): void {
  if (installed) return;
  installed = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
}

export interface TestTracing {
  provider: BasicTracerProvider;
  exporter: InMemorySpanExporter;
  spans(): ReadableSpan[];
}

/** A tracer provider exporting every ended span to memory, at once. */
export function inMemoryTracing(sampler?: Sampler): TestTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)], ...(sampler === undefined ? {} : { sampler }) });
  return { provider, exporter, spans: () => exporter.getFinishedSpans() };
}
