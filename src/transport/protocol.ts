/**
 * The request plane's wire protocol, version 1 (docs/protocol.md). Everything protocol-level is
 * carried in NATS headers so the payload is the application's bytes, exactly as counted by
 * `request_bytes`/`response_bytes`.
 *
 * request   → endpoint subject (queue group) or instance subject; reply = requester's inbox
 *             headers: Dynamo-Protocol: 1, Dynamo-Request-Id, Dynamo-Content-Type, Dynamo-Window
 * responses → reply subject, in order: zero or more `data`, then exactly one `end` or one `error`
 *             headers: Dynamo-Protocol: 1, Dynamo-Kind, Dynamo-Content-Type (data),
 *             Dynamo-Instance (first data), Dynamo-Error-Type (error)
 * acks      → the serving instance's control subject: at most `window` data messages are ever
 *             unacknowledged, so a slow or absent reader holds the handler, not memory
 */
export const PROTOCOL_VERSION = '1';

export const Header = {
  Protocol: 'Dynamo-Protocol',
  RequestId: 'Dynamo-Request-Id',
  ContentType: 'Dynamo-Content-Type',
  Kind: 'Dynamo-Kind',
  ErrorType: 'Dynamo-Error-Type',
  Instance: 'Dynamo-Instance',
  /** Request: how many data messages the requester takes before it acknowledges (flow control). */
  Window: 'Dynamo-Window',
} as const;

/** Data messages in flight per stream when the request names no window, and the most a request may ask. */
export const DEFAULT_WINDOW = 128;
export const MAX_WINDOW = 4096;

export const MessageKind = { Data: 'data', End: 'end', Error: 'error' } as const;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

export const ContentType = { Json: 'application/json', Bytes: 'application/octet-stream' } as const;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];

/** Error types a response can carry besides the six metric `error_type`s. */
export const RemoteErrorType = {
  /** The server is shutting down and did not take the request. */
  ShuttingDown: 'shutting_down',
  /** The request was cancelled by the client. */
  Cancelled: 'cancelled',
} as const;

/** A request id travels in a header and names a cancellation: keep it short and printable. */
export const REQUEST_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Subjects of one endpoint. NATS tokens are `.`-separated; our names never contain `.`, `*`, `>` or spaces. */
export function endpointSubject(namespace: string, component: string, endpoint: string): string {
  return `dynamo.${namespace}.${component}.${endpoint}`;
}

export function instanceSubject(base: string, instanceId: string): string {
  return `${base}.${instanceId}`;
}

/** Where a client tells every instance of an endpoint that it gave up on a request (body: request id). */
export function cancelSubject(base: string): string {
  return `_DYN.CANCEL.${base.slice('dynamo.'.length)}`;
}

/**
 * Where a requester acknowledges consumed responses to the instance serving its request
 * (body: `<request id> <count consumed>`). The instance names itself in its first data message.
 */
export function controlSubject(base: string, instanceId: string): string {
  return `_DYN.CTL.${base.slice('dynamo.'.length)}.${instanceId}`;
}

/** The body of the end-of-stream message: how many data messages came before it, so a client can tell a gap. */
export interface EndOfStream {
  count: number;
}

/** The body of an error message. */
export interface ErrorBody {
  type: string;
  message: string;
}
