/**
 * Every error this package throws on purpose is a `DynamoError` with a stable `code`.
 * Codes are part of the public contract: they are listed in docs/errors.md and a test
 * keeps that page and this table in step.
 */
export const ErrorCode = {
  /** A namespace, component or endpoint name is empty, too long or has a bad character. */
  InvalidName: 'DYN_ERR_INVALID_NAME',
  /** A custom metric name is not a valid Prometheus/OpenTelemetry name. */
  InvalidMetricName: 'DYN_ERR_INVALID_METRIC_NAME',
  /** A label name is malformed or reserved (`dynamo_*`, `error_type`, `le`). */
  InvalidLabel: 'DYN_ERR_INVALID_LABEL',
  /** A metric of this name already exists with another type, label set, unit or help text. */
  MetricConflict: 'DYN_ERR_METRIC_CONFLICT',
  /** Histogram bucket boundaries are not finite, increasing numbers. */
  InvalidBuckets: 'DYN_ERR_INVALID_BUCKETS',
  /** An environment variable has a value that cannot be understood. */
  InvalidEnv: 'DYN_ERR_INVALID_ENV',
  /** An options object passed to the API has a value that cannot be used. */
  InvalidOption: 'DYN_ERR_INVALID_OPTION',
  /** The system status server could not bind its port. */
  PortInUse: 'DYN_ERR_PORT_IN_USE',
  /** The system status server failed to start for another reason. */
  SystemServer: 'DYN_ERR_SYSTEM_SERVER',
  /** The runtime was used after `shutdown()`. */
  RuntimeClosed: 'DYN_ERR_RUNTIME_CLOSED',
  /** An endpoint of this path already exists with different options. */
  EndpointConflict: 'DYN_ERR_ENDPOINT_CONFLICT',
  /** No NATS server could be reached at start. */
  NatsConnect: 'DYN_ERR_NATS_CONNECT',
  /** The NATS server refused a subscription an instance needs (the user's permissions). */
  NatsPermission: 'DYN_ERR_NATS_PERMISSION',
  /** The runtime was created with `nats: false` and asked to serve or call endpoints. */
  NoNats: 'DYN_ERR_NO_NATS',
  /** The endpoint is already being served by this runtime. */
  AlreadyServing: 'DYN_ERR_ALREADY_SERVING',
  /** No instance of the endpoint answered (nothing subscribed to its subject). */
  NoResponders: 'DYN_ERR_NO_RESPONDERS',
  /** `waitForInstances` found none in time. */
  NoInstances: 'DYN_ERR_NO_INSTANCES',
  /** No response message arrived within the timeout. */
  Timeout: 'DYN_ERR_TIMEOUT',
  /** The remote handler or its response stream failed; `errorType` and the message say how. */
  Remote: 'DYN_ERR_REMOTE',
  /** The response stream ended before its end-of-stream message (connection lost, messages dropped). */
  StreamCutShort: 'DYN_ERR_STREAM_CUT_SHORT',
  /** The request was cancelled through its `AbortSignal`. */
  Cancelled: 'DYN_ERR_CANCELLED',
  /** The request value cannot be encoded (not JSON-serializable). */
  Encode: 'DYN_ERR_ENCODE',
  /** Every instance tried was serving its `maxConcurrency` requests already; nothing ran. */
  Overloaded: 'DYN_ERR_OVERLOADED',
  /** The encoded request is larger than the NATS server accepts (`max_payload`); nothing was sent. */
  RequestTooLarge: 'DYN_ERR_REQUEST_TOO_LARGE',
  /** `generate()` on a client every holder has closed; nothing was sent. */
  ClientClosed: 'DYN_ERR_CLIENT_CLOSED',
  /** `generate()`'s `headers`: a name that is not a header token, a value with a line break, or a name the protocol reserves (`Dynamo-*`, `Nats-*`). */
  InvalidHeader: 'DYN_ERR_INVALID_HEADER',
  /** The request's header block (protocol, trace context and the caller's headers) is over what an instance accepts (16 KiB, 64 entries); nothing was sent. */
  HeadersTooLarge: 'DYN_ERR_HEADERS_TOO_LARGE',
  /** An optional package the configuration needs (an OTLP exporter) is not installed; the message names it. */
  MissingPackage: 'DYN_ERR_MISSING_PACKAGE',
} as const;
/** One of the `DYN_ERR_*` codes. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error this package throws on purpose; `code` is stable and listed in docs/errors.md. */
export class DynamoError extends Error {
  /** Which error: one of {@link ErrorCode}. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DynamoError';
    this.code = code;
  }
}

/** An error the remote endpoint reported: `errorType` is one of the `error_type` values, or `shutting_down`. */
export class RemoteError extends DynamoError {
  /** The remote `error_type` (e.g. `generate`), or `shutting_down`. */
  readonly errorType: string;

  constructor(errorType: string, message: string) {
    super(ErrorCode.Remote, `remote ${errorType} error: ${message}`);
    this.name = 'RemoteError';
    this.errorType = errorType;
  }
}
