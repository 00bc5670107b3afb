/**
 * The automatic caller-side metrics: what every `EndpointClient` saw of the endpoint it calls,
 * labelled with the TARGET endpoint's `dynamo_*` labels. Defined once here; every rendering
 * (/metrics, the producer, the API bridge) derives from this table as it does from
 * `EndpointMetric`.
 */
import { ErrorCode } from '../errors.ts';
import type { ClientRecorder } from './client-recorder.ts';
import { AutomaticType, Label, labelledBy, type AutomaticMetric } from './names.ts';

/**
 * How a request ended badly, as the caller saw it: the label `error_type` of
 * `dynamo_client_errors_total`, one value per client error code a request (or the wait for an
 * endpoint's instances) can end with. When each is counted is spelled out in docs/metrics.md.
 */
export const ClientErrorType = {
  /** `DYN_ERR_NO_RESPONDERS`: nothing served the endpoint's subject, or the request could not be sent. */
  NoResponders: 'no_responders',
  /** `DYN_ERR_NO_INSTANCES`: `waitForInstances` found too few instances in time (not a request). */
  NoInstances: 'no_instances',
  /** `DYN_ERR_TIMEOUT`: no response message within the timeout. */
  Timeout: 'timeout',
  /** `DYN_ERR_REMOTE`: the endpoint answered with an error (its handler failed, it shut down, it refused the request). */
  Remote: 'remote',
  /** `DYN_ERR_STREAM_CUT_SHORT`: the stream ended before its end-of-stream message (connection lost, client closed, messages lost). */
  StreamCutShort: 'stream_cut_short',
  /** `DYN_ERR_CANCELLED`: the caller's `AbortSignal` cancelled the request. */
  Cancelled: 'cancelled',
  /** `DYN_ERR_OVERLOADED`: every instance asked was at its concurrency limit; nothing ran. */
  Overloaded: 'overloaded',
  /** `DYN_ERR_REQUEST_TOO_LARGE`: the request is over the NATS server's `max_payload`; nothing was sent. */
  RequestTooLarge: 'request_too_large',
} as const;
/** One of the caller-side `error_type` values. */
export type ClientErrorType = (typeof ClientErrorType)[keyof typeof ClientErrorType];

/** Every caller-side `error_type` value, in a fixed order. */
export const CLIENT_ERROR_TYPES: readonly ClientErrorType[] = Object.freeze(Object.values(ClientErrorType));

/** The error code each caller-side `error_type` counts. */
export const CLIENT_ERROR_CODES: Readonly<Partial<Record<string, ClientErrorType>>> = Object.freeze({
  [ErrorCode.NoResponders]: ClientErrorType.NoResponders,
  [ErrorCode.NoInstances]: ClientErrorType.NoInstances,
  [ErrorCode.Timeout]: ClientErrorType.Timeout,
  [ErrorCode.Remote]: ClientErrorType.Remote,
  [ErrorCode.StreamCutShort]: ClientErrorType.StreamCutShort,
  [ErrorCode.Cancelled]: ClientErrorType.Cancelled,
  [ErrorCode.Overloaded]: ClientErrorType.Overloaded,
  [ErrorCode.RequestTooLarge]: ClientErrorType.RequestTooLarge,
});

/** The automatic caller-side metrics, one entry each: Prometheus/OpenTelemetry name, help text, unit, type. */
export const ClientMetric = {
  /** Requests sent (and requests that could not be sent), whatever their outcome. */
  requests: {
    name: 'dynamo_client_requests_total',
    help: 'Total number of requests sent by clients of component endpoint',
    unit: '',
    /** Prometheus `counter`, OpenTelemetry monotonic sum. */
    type: AutomaticType.Counter,
    /** Its value: the client recorder's `requests`. */
    read: (r: ClientRecorder) => r.requests,
  },
  /** From sending the request to its end-of-stream or error message (the whole stream). */
  duration: {
    name: 'dynamo_client_request_duration_seconds',
    help: 'Time from sending a request to the end of its response stream, seen by clients of component endpoint',
    unit: 's',
    /** Prometheus and OpenTelemetry histogram (the target endpoint's duration buckets). */
    type: AutomaticType.Histogram,
    /** The client recorder's `duration`. */
    histogram: (r: ClientRecorder) => r.duration,
  },
  /** From sending the request to receiving its first data message; requests with no data message are not observed. */
  firstResponse: {
    name: 'dynamo_client_time_to_first_response_seconds',
    help: 'Time from sending a request to receiving its first response, seen by clients of component endpoint',
    unit: 's',
    /** Prometheus and OpenTelemetry histogram (the target endpoint's duration buckets). */
    type: AutomaticType.Histogram,
    /** The client recorder's `firstResponse`. */
    histogram: (r: ClientRecorder) => r.firstResponse,
  },
  /** Requests sent whose stream has not ended yet. */
  inflight: {
    name: 'dynamo_client_inflight_requests',
    help: 'Number of requests of clients of component endpoint waiting for the end of their response stream',
    unit: '',
    /** Prometheus `gauge`, OpenTelemetry non-monotonic sum. */
    type: AutomaticType.UpDownCounter,
    /** Its value: the client recorder's `inflight`. */
    read: (r: ClientRecorder) => r.inflight,
  },
  /** Request payload bytes sent. */
  requestBytes: {
    name: 'dynamo_client_request_bytes_total',
    help: 'Total number of bytes sent in requests by clients of component endpoint',
    unit: 'By',
    /** Prometheus `counter`, OpenTelemetry monotonic sum. */
    type: AutomaticType.Counter,
    /** Its value: the client recorder's `requestBytes`. */
    read: (r: ClientRecorder) => r.requestBytes,
  },
  /** Payload bytes of every response message a stream took: data, end-of-stream and error messages. */
  responseBytes: {
    name: 'dynamo_client_response_bytes_total',
    help: 'Total number of bytes received in responses by clients of component endpoint',
    unit: 'By',
    /** Prometheus `counter`, OpenTelemetry monotonic sum. */
    type: AutomaticType.Counter,
    /** Its value: the client recorder's `responseBytes`. */
    read: (r: ClientRecorder) => r.responseBytes,
  },
  /** Failures, by caller-side `error_type`. */
  errors: {
    name: 'dynamo_client_errors_total',
    help: 'Total number of errors seen by clients of component endpoint',
    unit: '',
    /** Prometheus `counter`, OpenTelemetry monotonic sum. */
    type: AutomaticType.Counter,
    /** One series per caller-side `error_type`, from the client recorder's `errors`. */
    labelled: labelledBy(Label.ErrorType, CLIENT_ERROR_TYPES, (r: ClientRecorder) => r.errors),
  },
} as const satisfies Record<string, AutomaticMetric<ClientRecorder>>;

/** The caller-side table, in exposition order. */
export const CLIENT_METRICS: readonly AutomaticMetric<ClientRecorder>[] = Object.freeze(Object.values(ClientMetric));
