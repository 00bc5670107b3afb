export { DistributedRuntime } from './runtime/distributed-runtime.ts';
export type { DistributedRuntimeOptions } from './runtime/distributed-runtime.ts';
export { Namespace } from './runtime/namespace.ts';
export { Component } from './runtime/component.ts';
export { Endpoint } from './runtime/endpoint.ts';
export type { EndpointOptions, ServeOptions } from './runtime/endpoint.ts';
export type { SystemServerOptions } from './config/runtime-config.ts';
export { Ingress } from './runtime/ingress.ts';
export type { Engine, Handler } from './runtime/ingress.ts';

export { EndpointClient, RouterMode } from './transport/client.ts';
export type { ClientOptions, ClientStats, GenerateOptions, WaitOptions } from './transport/client.ts';
export { ResponseStream } from './transport/response-stream.ts';
export type { RequestContext } from './transport/request-context.ts';
export type { Instance } from './transport/service-discovery.ts';
export type { NatsOptions } from './transport/nats-connection.ts';
export { PROTOCOL_VERSION } from './transport/protocol.ts';

export { EndpointRecorder } from './metrics/endpoint-recorder.ts';
export { EndpointMetricsProducer } from './metrics/endpoint-producer.ts';
export { PrometheusReader } from './metrics/prometheus-reader.ts';
export type { PrometheusReaderOptions } from './metrics/prometheus-reader.ts';
export { PrometheusSerializer, serializeResourceMetrics } from './metrics/prometheus-serializer.ts';
export type { PrometheusSerializerOptions } from './metrics/prometheus-serializer.ts';
export { MetricKind } from './metrics/custom-metrics.ts';
export type {
  Counter,
  Gauge,
  Histogram,
  HistogramOptions,
  Labels,
  MetricOptions,
  Observable,
  ObservableCallback,
  ObservableResult,
  UpDownCounter,
} from './metrics/custom-metrics.ts';
export { DEFAULT_DURATION_BUCKETS, ERROR_TYPES, EndpointMetric, ErrorType, UptimeMetric } from './metrics/names.ts';

export { HealthStatus, NatsState } from './system/health.ts';
export type { HealthReport } from './system/health.ts';
export { PROMETHEUS_CONTENT_TYPE } from './system/status-server.ts';

export { DynamoError, ErrorCode, RemoteError } from './errors.ts';
export { LogLevel } from './logging/logger.ts';
export type { Logger, LogFields, LogSink } from './logging/logger.ts';
export { VERSION } from './version.ts';
