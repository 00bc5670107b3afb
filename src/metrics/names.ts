/**
 * The automatic endpoint metrics: names, help texts and units exactly as the seed's exposition
 * shows them. The OpenTelemetry instrument name *is* the Prometheus name, so the same string is
 * queried on /metrics, behind a Collector's Prometheus exporter and in OTLP.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import type { EndpointRecorder } from './endpoint-recorder.ts';
import type { BucketExemplars } from './exemplars.ts';
import type { HistogramRecorder } from './histogram-recorder.ts';

export const METRIC_PREFIX = 'dynamo_component_';

export interface MetricSpec {
  readonly name: string;
  readonly help: string;
  readonly unit: string;
}

/** How an automatic metric is exposed: Prometheus `counter`, `gauge` (an up-down counter) or `histogram`. */
export const AutomaticType = { Counter: 'counter', UpDownCounter: 'up_down_counter', Histogram: 'histogram' } as const;
export type AutomaticType = (typeof AutomaticType)[keyof typeof AutomaticType];

/** A counter with one series per value of one label (`error_type`, `reason`), every value present from the start. */
export interface LabelledSeries<R> {
  /** The label's name. */
  readonly label: string;
  /** Its values, in exposition order. */
  readonly values: readonly string[];
  /** The counts, one per value in `values` order. */
  counts(recorder: R): Float64Array;
}

/**
 * An automatic metric, defined once: every rendering (the producer's OTel data, the /metrics fast
 * path, the API bridge, the name checks of custom metrics) is derived from its table. Exactly one
 * of `read` (a counter's or up-down counter's one series), `labelled` (one series per label value)
 * and `histogram` (the recorder's histogram of it) says where its numbers are.
 */
export interface AutomaticMetric<R = never> extends MetricSpec {
  readonly type: AutomaticType;
  read?(recorder: R): number;
  readonly labelled?: LabelledSeries<R>;
  histogram?(recorder: R): HistogramRecorder;
  /** A histogram's exemplars (OpenMetrics only). */
  exemplars?(recorder: R): BucketExemplars;
}

/**
 * What the exposition, the producer and the API bridge read: a recorder of one table (an
 * endpoint's, or a caller's view of one target endpoint) with its attribute sets bound once.
 */
export interface MetricsRecorder {
  /** `dynamo_namespace`, `dynamo_component`, `dynamo_endpoint` and the user's constant labels. */
  readonly attributes: Attributes;
  /** The table of metrics this recorder holds, in exposition order. */
  readonly table: readonly AutomaticMetric<never>[];
  /** Frozen attribute sets of a labelled metric's series, in its `values` order. */
  seriesAttributes(metric: AutomaticMetric<never>): readonly Attributes[];
  /** Start of the cumulative series. */
  startTime: HrTime;
}

/** The label names of the automatic metrics. */
export const Label = {
  Namespace: 'dynamo_namespace',
  Component: 'dynamo_component',
  Endpoint: 'dynamo_endpoint',
  ErrorType: 'error_type',
  Reason: 'reason',
} as const;

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

/** A labelled counter's series: `label` with each of `values`, counted in `counts(recorder)`. */
export function labelledBy<R>(label: string, values: readonly string[], counts: (recorder: R) => Float64Array): LabelledSeries<R> {
  return { label, values, counts };
}

/** Why a request ended early without an endpoint error: the label `reason` of `dynamo_component_cancellation_total`. */
export const CancelReason = {
  /** The requester cancelled (its `AbortSignal`, or it stopped reading: `break`, `return`, a throw in its loop). */
  Client: 'client',
  /** The requester's window stayed full with not even a heartbeat for the stall timeout: the stream was abandoned. */
  Stall: 'stall',
  /** Shutdown's grace period ended while the stream was still running. */
  Shutdown: 'shutdown',
} as const;
/** `client`, `stall` or `shutdown`. */
export type CancelReason = (typeof CancelReason)[keyof typeof CancelReason];

/** Every `reason` value, in a fixed order. */
export const CANCEL_REASONS: readonly CancelReason[] = Object.freeze(Object.values(CancelReason));

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
    read: (r: EndpointRecorder) => r.requests,
  },
  /** Request payload bytes as received. */
  requestBytes: {
    name: 'dynamo_component_request_bytes_total',
    help: 'Total number of bytes received in requests by component endpoint',
    unit: 'By',
    /** Prometheus `counter`, OpenTelemetry monotonic sum. */
    type: AutomaticType.Counter,
    /** Its value: the endpoint recorder's `requestBytes`. */
    read: (r: EndpointRecorder) => r.requestBytes,
  },
  /** Payload bytes of every response message published, the end-of-stream message included. */
  responseBytes: {
    name: 'dynamo_component_response_bytes_total',
    help: 'Total number of bytes sent in responses by component endpoint',
    unit: 'By',
    /** Prometheus `counter`, OpenTelemetry monotonic sum. */
    type: AutomaticType.Counter,
    /** Its value: the endpoint recorder's `responseBytes`. */
    read: (r: EndpointRecorder) => r.responseBytes,
  },
  /** Errors, by `error_type`. */
  errors: {
    name: 'dynamo_component_errors_total',
    help: 'Total number of errors encountered by component endpoint',
    unit: '',
    /** Prometheus `counter`, OpenTelemetry monotonic sum. */
    type: AutomaticType.Counter,
    /** One series per `error_type`, from the endpoint recorder's `errors`. */
    labelled: labelledBy(Label.ErrorType, ERROR_TYPES, (r: EndpointRecorder) => r.errors),
  },
  /** From taking the request off the wire to publishing its last response. */
  duration: {
    name: 'dynamo_component_request_duration_seconds',
    help: 'Time spent processing requests by component endpoint',
    unit: 's',
    /** Prometheus and OpenTelemetry histogram. */
    type: AutomaticType.Histogram,
    /** The endpoint recorder's `duration`. */
    histogram: (r: EndpointRecorder) => r.duration,
    /** Per bucket, the last sampled request's trace (OpenMetrics exemplars). */
    exemplars: (r: EndpointRecorder) => r.durationExemplars,
  },
  /** Requests being processed now. */
  inflight: {
    name: 'dynamo_component_inflight_requests',
    help: 'Number of requests currently being processed by component endpoint',
    unit: '',
    /** Prometheus `gauge`, OpenTelemetry non-monotonic sum. */
    type: AutomaticType.UpDownCounter,
    /** Its value: the endpoint recorder's `inflight`. */
    read: (r: EndpointRecorder) => r.inflight,
  },
  /** Admission control: the endpoint's `maxConcurrency` (0: no limit). */
  concurrencyLimit: {
    name: 'dynamo_component_concurrency_limit',
    help: 'Maximum number of requests the component endpoint serves at once (0 for no limit)',
    unit: '',
    /** Prometheus `gauge`, OpenTelemetry non-monotonic sum. */
    type: AutomaticType.UpDownCounter,
    /** Its value: the endpoint recorder's `concurrencyLimit`. */
    read: (r: EndpointRecorder) => r.concurrencyLimit,
  },
  /** Admission control: requests refused at once because the endpoint served its limit already. */
  rejected: {
    name: 'dynamo_component_rejected_requests_total',
    help: 'Total number of requests refused by component endpoint because it was serving its concurrency limit',
    unit: '',
    /** Prometheus `counter`, OpenTelemetry monotonic sum. */
    type: AutomaticType.Counter,
    /** Its value: the endpoint recorder's `rejected`. */
    read: (r: EndpointRecorder) => r.rejected,
  },
  /** From taking the request off the wire to publishing its first data message; requests with no data message are not observed. */
  firstResponse: {
    name: 'dynamo_component_time_to_first_response_seconds',
    help: 'Time from receiving a request to publishing its first response by component endpoint',
    unit: 's',
    /** Prometheus and OpenTelemetry histogram (the duration buckets). */
    type: AutomaticType.Histogram,
    /** The endpoint recorder's `firstResponse`. */
    histogram: (r: EndpointRecorder) => r.firstResponse,
    /** Per bucket, the last sampled request's trace (OpenMetrics exemplars). */
    exemplars: (r: EndpointRecorder) => r.firstResponseExemplars,
  },
  /** The gap between consecutive data messages of one response stream. */
  interResponse: {
    name: 'dynamo_component_inter_response_seconds',
    help: 'Time between consecutive responses of one response stream by component endpoint',
    unit: 's',
    /** Prometheus and OpenTelemetry histogram (the inter-response buckets). */
    type: AutomaticType.Histogram,
    /** The endpoint recorder's `interResponse`. */
    histogram: (r: EndpointRecorder) => r.interResponse,
  },
  /** Data messages published (the end-of-stream and error messages are not responses). */
  responses: {
    name: 'dynamo_component_responses_total',
    help: 'Total number of responses (data messages) sent by component endpoint',
    unit: '',
    /** Prometheus `counter`, OpenTelemetry monotonic sum. */
    type: AutomaticType.Counter,
    /** Its value: the endpoint recorder's `responses`. */
    read: (r: EndpointRecorder) => r.responses,
  },
  /** Requests ended early for a reason that is not an endpoint error, by `reason`. */
  cancellations: {
    name: 'dynamo_component_cancellation_total',
    help: 'Total number of requests cancelled before their response stream finished by component endpoint',
    unit: '',
    /** Prometheus `counter`, OpenTelemetry monotonic sum. */
    type: AutomaticType.Counter,
    /** One series per `reason`, from the endpoint recorder's `cancellations`. */
    labelled: labelledBy(Label.Reason, CANCEL_REASONS, (r: EndpointRecorder) => r.cancellations),
  },
} as const satisfies Record<string, AutomaticMetric<EndpointRecorder>>;

/** The table, in exposition order. */
export const AUTOMATIC_METRICS: readonly AutomaticMetric<EndpointRecorder>[] = Object.freeze(Object.values(EndpointMetric));

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


/** Label names a user may not attach: they would shadow the hierarchy or break histograms. */
export const RESERVED_LABELS: ReadonlySet<string> = new Set([
  Label.Namespace,
  Label.Component,
  Label.Endpoint,
  Label.ErrorType,
  'le',
  'quantile',
]);

/** The seed's buckets, then longer ones so minute-long streams land in a real bucket. */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600,
]);

/**
 * Inter-response gap buckets (seconds): token streams run from well under a millisecond per
 * message to seconds when a worker is starved, so they start at 100 µs.
 */
export const DEFAULT_INTER_RESPONSE_BUCKETS: readonly number[] = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);
