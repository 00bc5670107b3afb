/**
 * Whether OpenTelemetry tracing is unconfigured: the API's global tracer provider with no SDK
 * behind it, and no propagator registered. Then a request has no span to make and no context to
 * carry, and the tracers answer at once instead of asking the API per request to find that out
 * (extracting, starting a no-op span, injecting nothing) — most of what tracing hooks cost an
 * application without an SDK (docs/benchmarks.md, "The request plane's cost").
 *
 * Checked per request, two property reads: an SDK or propagator registered later counts at once.
 */
import { propagation, ProxyTracerProvider, type TracerProvider } from '@opentelemetry/api';

/** The API's no-op provider: what the global provider delegates to while no SDK is registered. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/** A check for `provider`: always false for a provider the application passed (an SDK's). */
export function unconfiguredCheck(provider: TracerProvider): () => boolean {
  if (!(provider instanceof ProxyTracerProvider)) return () => false;
  return () => provider.getDelegate() === NOOP_PROVIDER && propagation.fields().length === 0;
}
