/**
 * The automatic endpoint metrics: names, help texts and units exactly as the seed's exposition
 * shows them. The OpenTelemetry instrument name *is* the Prometheus name, so the same string is
 * queried on /metrics, behind a Collector's Prometheus exporter and in OTLP.
 */
import type { EndpointRecorder } from './endpoint-recorder.ts';

export const METRIC_PREFIX = 'dynamo_component_';

export interface MetricSpec {
  readonly name: string;
  readonly help: string;
  readonly unit: string;
}

/** How an automatic metric is exposed: Prometheus `counter`, `gauge` (an up-down counter) or `histogram`. */
export const AutomaticType = { Counter: 'counter', UpDownCounter: 'up_down_counter', Histogram: 'histogram' } as const;
export type AutomaticType = (typeof AutomaticType)[keyof typeof AutomaticType];

/**
 * An automatic endpoint metric, defined once: every rendering (the producer's OTel data, the
 * /metrics fast path, the API bridge, the name checks of custom metrics) is derived from this
 * table. `read` gives a counter's or up-down counter's value from the endpoint's recorder;
 * `perErrorType` makes one series per `error_type` (the recorder's `errors`); the histogram reads
 * the recorder's duration buckets (a recorder has one histogram).
 */
export interface AutomaticMetric extends MetricSpec {
  readonly type: AutomaticType;
  readonly read?: (recorder: EndpointRecorder) => number;
  readonly perErrorType?: boolean;
}

/** The automatic endpoint metrics, one entry each: Prometheus/OpenTelemetry name, help text, unit, type. */
export const EndpointMetric = {
  /** Requests taken, whatever their outcome. */
  requests: {
    name: 'dynamo_component_requests_total',
    help: 'Total number of requests processed by component endpoint',
    unit: '',
    /** Prometheus `counter`, OpenTelemetry monotonic sum. */
    type: AutomaticType.Counter,
    /** Its value: the endpoint recorder's `requests`. */
    read: (r) => r.requests,
  },
  /** Request payload bytes as received. */
  requestBytes: {
    name: 'dynamo_component_request_bytes_total',
    help: 'Total number of bytes received in requests by component endpoint',
    unit: 'By',
    /** Prometheus `counter`, OpenTelemetry monotonic sum. */
    type: AutomaticType.Counter,
    /** Its value: the endpoint recorder's `requestBytes`. */
    read: (r) => r.requestBytes,
  },
  /** Payload bytes of every response message published, the end-of-stream message included. */
  responseBytes: {
    name: 'dynamo_component_response_bytes_total',
    help: 'Total number of bytes sent in responses by component endpoint',
    unit: 'By',
    /** Prometheus `counter`, OpenTelemetry monotonic sum. */
    type: AutomaticType.Counter,
    /** Its value: the endpoint recorder's `responseBytes`. */
    read: (r) => r.responseBytes,
  },
  /** Errors, by `error_type`. */
  errors: {
    name: 'dynamo_component_errors_total',
    help: 'Total number of errors encountered by component endpoint',
    unit: '',
    /** Prometheus `counter`, OpenTelemetry monotonic sum. */
    type: AutomaticType.Counter,
    /** One series per `error_type`, from the endpoint recorder's `errors`. */
    perErrorType: true,
  },
  /** From taking the request off the wire to publishing its last response. */
  duration: {
    name: 'dynamo_component_request_duration_seconds',
    help: 'Time spent processing requests by component endpoint',
    unit: 's',
    /** Prometheus and OpenTelemetry histogram. */
    type: AutomaticType.Histogram,
  },
  /** Requests being processed now. */
  inflight: {
    name: 'dynamo_component_inflight_requests',
    help: 'Number of requests currently being processed by component endpoint',
    unit: '',
    /** Prometheus `gauge`, OpenTelemetry non-monotonic sum. */
    type: AutomaticType.UpDownCounter,
    /** Its value: the endpoint recorder's `inflight`. */
    read: (r) => r.inflight,
  },
  /** Admission control: the endpoint's `maxConcurrency` (0: no limit). */
  concurrencyLimit: {
    name: 'dynamo_component_concurrency_limit',
    help: 'Maximum number of requests the component endpoint serves at once (0 for no limit)',
    unit: '',
    /** Prometheus `gauge`, OpenTelemetry non-monotonic sum. */
    type: AutomaticType.UpDownCounter,
    /** Its value: the endpoint recorder's `concurrencyLimit`. */
    read: (r) => r.concurrencyLimit,
  },
  /** Admission control: requests refused at once because the endpoint served its limit already. */
  rejected: {
    name: 'dynamo_component_rejected_requests_total',
    help: 'Total number of requests refused by component endpoint because it was serving its concurrency limit',
    unit: '',
    /** Prometheus `counter`, OpenTelemetry monotonic sum. */
    type: AutomaticType.Counter,
    /** Its value: the endpoint recorder's `rejected`. */
    read: (r) => r.rejected,
  },
} as const satisfies Record<string, AutomaticMetric>;

/** The table, in exposition order. */
export const AUTOMATIC_METRICS: readonly AutomaticMetric[] = Object.freeze(Object.values(EndpointMetric));

/** The runtime's uptime gauge, labelled `dynamo_namespace="system_status_server"`. */
export const UptimeMetric = {
  name: 'uptime_seconds',
  help: 'Total uptime of the DistributedRuntime in seconds',
  unit: 's',
} as const satisfies MetricSpec;

/**
 * The runtime's NATS connection: 1 connected, 0 not (reconnecting). No series for a runtime
 * without NATS (`nats: false`) or before it connected first. Alerting on a metric, not on
 * `/health`: Prometheus scrapes /metrics already, and the series says which instance is cut off.
 */
export const NatsConnectedMetric = {
  name: 'dynamo_runtime_nats_connected',
  help: 'Whether the DistributedRuntime is connected to NATS (1) or not (0)',
  unit: '',
} as const satisfies MetricSpec;

/** The label the uptime gauge carries, as in the seed. */
export const UPTIME_NAMESPACE = 'system_status_server';

export const Label = {
  Namespace: 'dynamo_namespace',
  Component: 'dynamo_component',
  Endpoint: 'dynamo_endpoint',
  ErrorType: 'error_type',
} as const;

/** Label names a user may not attach: they would shadow the hierarchy or break histograms. */
export const RESERVED_LABELS: ReadonlySet<string> = new Set([
  Label.Namespace,
  Label.Component,
  Label.Endpoint,
  Label.ErrorType,
  'le',
  'quantile',
]);

/** When each is counted is spelled out in docs/metrics.md. */
export const ErrorType = {
  /** The request body cannot be decoded. */
  Deserialization: 'deserialization',
  /** The message decodes but is not a valid request. */
  InvalidMessage: 'invalid_message',
  /** No response stream can be opened (e.g. no reply subject). */
  ResponseStream: 'response_stream',
  /** The handler threw, rejected, or its stream failed part-way. */
  Generate: 'generate',
  /** Publishing a response message failed. */
  PublishResponse: 'publish_response',
  /** Publishing the end-of-stream message failed. */
  PublishFinal: 'publish_final',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** Every `error_type` value, in a fixed order. */
export const ERROR_TYPES: readonly ErrorType[] = Object.freeze(Object.values(ErrorType));

/** The seed's buckets, then longer ones so minute-long streams land in a real bucket. */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600,
]);
