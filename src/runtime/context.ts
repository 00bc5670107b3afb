import type { TracerProvider } from '@opentelemetry/api';
import type { Logger } from '../logging/logger.ts';
import type { CustomMetricsRegistry } from '../metrics/custom-metrics.ts';
import type { MetricsPipeline } from '../metrics/pipeline.ts';
import type { NatsTransport } from '../transport/nats-connection.ts';
import type { ServiceResponder } from '../transport/service-discovery.ts';
import type { Endpoint } from './endpoint.ts';

/** What the hierarchy nodes of one runtime share. Internal: passed down, never imported. */
export interface RuntimeContext {
  readonly logger: Logger;
  readonly pipeline: MetricsPipeline;
  readonly registry: CustomMetricsRegistry;
  /** Default duration buckets for endpoints (options, else env, else the package default). */
  readonly durationBuckets: readonly number[];
  /** Default inter-response gap buckets for endpoints (options, else env, else the package default). */
  readonly interResponseBuckets: readonly number[];
  readonly endpoints: Map<string, Endpoint>;
  readonly instanceId: string;
  /** Grace period for in-flight requests at shutdown, ms. */
  readonly shutdownGraceMs: number;
  /** How long a response stream may wait for its reader's acknowledgement, ms. */
  readonly streamStallTimeoutMs: number;
  /** Default limit of requests an endpoint serves at once (undefined: none). */
  readonly maxConcurrency: number | undefined;
  /** Where request spans go: the runtime's `tracerProvider`, else the global one. */
  readonly tracerProvider: TracerProvider;
  /** Record OpenTelemetry's RPC call-duration histograms too (opted in by `OTEL_SEMCONV_STABILITY_OPT_IN`). */
  readonly rpcSemconv: boolean;
  assertOpen(): void;
  /** The NATS connection; throws `DYN_ERR_NO_NATS` when the runtime runs without one. */
  nats(): NatsTransport;
  /** The `$SRV` responder announcing this runtime's endpoints. */
  service(): ServiceResponder;
}
