/**
 * OpenTelemetry's RPC semantic conventions, on request: with `OTEL_SEMCONV_STABILITY_OPT_IN`
 * naming `rpc` (or `rpc/dup`), every endpoint also records `rpc.server.call.duration` and every
 * caller `rpc.client.call.duration` — the whole stream, as the `dynamo_*` durations — so
 * dashboards built on the conventions see this runtime like any other RPC system.
 *
 * These are ordinary SDK histograms (the attribute set of each outcome is bound once, but the SDK
 * still hashes it per record): opting in costs what the stock instruments cost, about a
 * microsecond per request; the automatic `dynamo_*` metrics are untouched.
 */
import type { Attributes, Histogram, Meter } from '@opentelemetry/api';

/** The conventions' names, attribute keys and bucket advice (semantic-conventions, RPC metrics). */
export const RpcSemconv = {
  serverDuration: { name: 'rpc.server.call.duration', help: 'Measures the duration of an incoming Remote Procedure Call (RPC).', unit: 's' },
  clientDuration: { name: 'rpc.client.call.duration', help: 'Measures the duration of an outgoing Remote Procedure Call (RPC).', unit: 's' },
  /** `rpc.system.name`: no well-known value applies, so the conventions allow a custom one. */
  systemName: 'dynamo',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
} as const;

/** Receives one call's duration and how it failed (undefined when it did not). */
export type CallSink = (seconds: number, errorType: string | undefined) => void;

/**
 * Creates the histogram `spec` on every meter and returns the sink that records a call on all of
 * them, with the attribute set of its outcome bound once: `attributes` plus `rpc.system.name`,
 * `rpc.method` and, for a failed call only, `error.type` (one of `errorTypes`).
 */
export function rpcCallSink(meters: readonly Meter[], spec: { name: string; help: string; unit: string }, attributes: Attributes, method: string, errorTypes: readonly string[]): CallSink {
  const histograms: Histogram[] = meters.map((meter) =>
    meter.createHistogram(spec.name, { description: spec.help, unit: spec.unit, advice: { explicitBucketBoundaries: [...RpcSemconv.buckets] } }),
  );
  const ok = Object.freeze({ ...attributes, 'rpc.system.name': RpcSemconv.systemName, 'rpc.method': method });
  const failed = new Map(errorTypes.map((type) => [type, Object.freeze({ ...ok, 'error.type': type })]));
  const other = Object.freeze({ ...ok, 'error.type': '_OTHER' });
  return (seconds, errorType) => {
    const set = errorType === undefined ? ok : failed.get(errorType) ?? other;
    for (const histogram of histograms) histogram.record(seconds, set);
  };
}
