// The public API: exactly what users build with. Internals (recorders, producers, serializers,
// the pipeline) stay importable from their files inside this repository, never from the package.

// The runtime and its hierarchy of names
export { DistributedRuntime } from './runtime/distributed-runtime.ts';
export type { DistributedRuntimeOptions } from './runtime/distributed-runtime.ts';
export { Namespace } from './runtime/namespace.ts';
export { Component } from './runtime/component.ts';
export { Endpoint } from './runtime/endpoint.ts';
export type { EndpointOptions, ServeOptions } from './runtime/endpoint.ts';
export type { SystemServerOptions } from './config/runtime-config.ts';

// Serving and calling
export { Ingress } from './runtime/ingress.ts';
export type { Engine, Handler } from './runtime/ingress.ts';
export { EndpointClient, RouterMode } from './transport/client.ts';
export type { ClientOptions, ClientStats, GenerateOptions, WaitOptions } from './transport/client.ts';
export { ResponseStream } from './transport/response-stream.ts';
export type { RequestContext, RequestHeaders } from './transport/request-context.ts';
export type { Instance } from './transport/service-discovery.ts';
export type { NatsOptions } from './transport/nats-connection.ts';
export { PROTOCOL_VERSION } from './transport/protocol.ts';

// Custom metrics. Named `Custom*` so that they never shadow `@opentelemetry/api`'s instruments
// (`Counter`, `Histogram`, `ObservableResult`…), which an application imports next to these.
export type {
  Counter as CustomCounter,
  Gauge as CustomGauge,
  Histogram as CustomHistogram,
  HistogramOptions as CustomHistogramOptions,
  Labels,
  MetricOptions as CustomMetricOptions,
  Observable as CustomObservable,
  ObservableCallback as CustomObservableCallback,
  ObservableResult as CustomObservableResult,
  UpDownCounter as CustomUpDownCounter,
} from './metrics/custom-metrics.ts';

// Metric vocabulary, and /metrics with your own MeterProvider
export { CANCEL_REASONS, CancelReason, DEFAULT_DURATION_BUCKETS, DEFAULT_INTER_RESPONSE_BUCKETS, ERROR_TYPES, EndpointMetric, ErrorType, UptimeMetric } from './metrics/names.ts';
export type { LabelledSeries } from './metrics/names.ts';
export { CLIENT_ERROR_TYPES, ClientErrorType, ClientMetric } from './metrics/client-names.ts';
export { PrometheusReader } from './metrics/prometheus-reader.ts';
export type { PrometheusReaderOptions } from './metrics/prometheus-reader.ts';
export { ExpositionFormat } from './metrics/prometheus-serializer.ts';

// Health, errors, logging
export { HealthStatus, NatsState } from './system/health.ts';
export type { HealthReport } from './system/health.ts';
export { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from './system/status-server.ts';
export { DynamoError, ErrorCode, RemoteError } from './errors.ts';
export { LogLevel } from './logging/logger.ts';
export type { Logger, LogFields, LogSink } from './logging/logger.ts';
export { VERSION } from './version.ts';
