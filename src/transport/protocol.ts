/**
 * The request plane's wire protocol, version 2 (docs/protocol.md). Everything protocol-level is
 * carried in NATS headers so the payload is the application's bytes, exactly as counted by
 * `request_bytes`/`response_bytes`.
 *
 * request   → endpoint subject (queue group) or instance subject; reply = `<requester inbox>.<tag>`
 *             headers: Dynamo-Protocol: 2, Dynamo-Request-Id, Dynamo-Key, Dynamo-Content-Type, Dynamo-Window
 * responses → reply subject, in order: zero or more `data`, then exactly one `end` or one `error`;
 *             or one `last` (a data message that also ends the stream: a handler's single value)
 *             headers: Dynamo-Protocol: 2, Dynamo-Kind, Dynamo-Instance, Dynamo-Content-Type (data, last:
 *             raw bytes only, absent means JSON),
 *             Dynamo-Error-Type (error), Dynamo-Load (end, last, error)
 * acks      → the serving instance's control subject, body `<key> <consumed>`
 * cancels   → the endpoint's cancel subject, body `<secret>`
 *
 * A request is bound to its requester by a secret the requester never sends with it
 * (request-secret.ts): the request carries key = H(secret), its reply subject ends with a tag
 * derived from the key, the endpoint and the body, acknowledgements carry the key and a cancel
 * the secret. Knowing a reply subject is not enough to have any instance answer it, and reading a
 * request is not enough to cancel it.
 */
export const PROTOCOL_VERSION = '2';

export const Header = {
  Protocol: 'Dynamo-Protocol',
  RequestId: 'Dynamo-Request-Id',
  /** Request: H(secret); the server checks H(key) against the reply subject's last token. */
  Key: 'Dynamo-Key',
  ContentType: 'Dynamo-Content-Type',
  Kind: 'Dynamo-Kind',
  ErrorType: 'Dynamo-Error-Type',
  /** Every response of a stream names the instance serving it; the client takes one instance per stream. */
  Instance: 'Dynamo-Instance',
  /** Request: how many data messages the requester takes before it acknowledges (flow control). */
  Window: 'Dynamo-Window',
  /** `end`, `last` and `error` responses: the other requests the instance had in flight when it sent them (load-aware routing). */
  Load: 'Dynamo-Load',
} as const;

/** A `Dynamo-Load` value: a whole number, at most seven digits; anything else is ignored. */
export const LOAD_RE = /^\d{1,7}$/;

/** Data messages in flight per stream when the request names no window, and the most a request may ask. */
export const DEFAULT_WINDOW = 128;
export const MAX_WINDOW = 4096;

/**
 * A header block larger than this, or with more lines than `MAX_HEADER_ENTRIES`, is refused
 * before any header is decoded: nats.js decodes headers in time that grows with the square of
 * the number of names, so an unbounded block would let one message block the event loop.
 * The bytes leave room for W3C trace context (`traceparent`, `tracestate`, 8 KiB of `baggage`).
 */
export const MAX_HEADER_BYTES = 16 * 1024;
export const MAX_HEADER_ENTRIES = 64;

/**
 * `last`: a data message that is also the end of its stream — what a handler that returns one
 * value is answered with: one message instead of two (`data`, then `end` with a count of 1).
 */
export const MessageKind = { Data: 'data', Last: 'last', End: 'end', Error: 'error' } as const;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

export const ContentType = { Json: 'application/json', Bytes: 'application/octet-stream' } as const;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];

/** Error types a response can carry besides the six metric `error_type`s. */
export const RemoteErrorType = {
  /** The instance shut down before the response stream finished (its grace period ran out): the handler ran, in part. */
  ShuttingDown: 'shutting_down',
  /** The instance is stopping and did not take the request (nothing ran): callers retry on another instance. */
  Unavailable: 'unavailable',
  /** The request was cancelled by its requester, or abandoned by the server because its reader stopped acknowledging. */
  Cancelled: 'cancelled',
  /** The instance serves its `maxConcurrency` requests already and did not take this one (nothing ran). */
  Overloaded: 'overloaded',
} as const;

/** A request id travels in a header and is shown to handlers and logs: short and printable. It identifies, it does not authorize. */
export const REQUEST_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** A key, tag or secret on the wire: base64url or UUID text, long enough to carry at least 122 random bits. */
export const TOKEN_RE = /^[A-Za-z0-9_-]{22,64}$/;

/** An instance id becomes a subject token. */
export const INSTANCE_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

/** The root of every request subject: `dynamo.<namespace>.<component>.<endpoint>[.<instance>]`. */
export const SUBJECT_ROOT = 'dynamo';
/** The root of the cancel and control subjects. */
export const CONTROL_ROOT = '_DYN';

/** Subjects of one endpoint. NATS tokens are `.`-separated; our names never contain `.`, `*`, `>` or spaces. */
export function endpointSubject(namespace: string, component: string, endpoint: string): string {
  return `${SUBJECT_ROOT}.${namespace}.${component}.${endpoint}`;
}

export function instanceSubject(base: string, instanceId: string): string {
  return `${base}.${instanceId}`;
}

/** Where a client tells the instances of an endpoint that it gave up on a request (body: the request's secret). */
export function cancelSubject(base: string): string {
  return `${CONTROL_ROOT}.CANCEL.${base.slice(SUBJECT_ROOT.length + 1)}`;
}

/**
 * Where a requester acknowledges consumed responses to the instance serving its request
 * (body: `<key> <count consumed>`), or cancels a request that instance serves (body: the secret).
 * Every response names the instance.
 */
export function controlSubject(base: string, instanceId: string): string {
  return `${CONTROL_ROOT}.CTL.${base.slice(SUBJECT_ROOT.length + 1)}.${instanceId}`;
}

/**
 * Where an instance says it starts or stops serving the endpoint (body: `join <id>` or
 * `leave <id>`): callers look again (a discovery round), they do not take the message's word.
 */
export function announceSubject(base: string): string {
  return `${CONTROL_ROOT}.ANNOUNCE.${base.slice(SUBJECT_ROOT.length + 1)}`;
}

/**
 * A subject of non-empty tokens with no wildcard, white space or control character: what the
 * loop in `replySubjectRefusal` accepts, matched natively (the loop runs only to name a refusal).
 */
const SUBJECT_TOKENS = /^[^\x00-\x20\x7f*>.]+(?:\.[^\x00-\x20\x7f*>.]+)*$/;

/**
 * Why a reply subject must not be answered, or undefined when it may. The server publishes only
 * to requesters' inboxes: never to request subjects (its own or another endpoint's), to the
 * control plane, or to system subjects (`$SRV`, `$SYS`, `$JS`, …) — so a forged reply subject
 * cannot turn an instance into a relay that injects messages where they do harm.
 */
export function replySubjectRefusal(reply: string): string | undefined {
  if (reply === '') return 'request has no reply subject';
  if (reply.length > 256) return 'reply subject longer than 256 characters';
  if (reply.startsWith('$')) return 'reply subject is a system subject';
  if (reply.startsWith(`${SUBJECT_ROOT}.`) || reply.startsWith(`${CONTROL_ROOT}.`)) return 'reply subject is a request-plane subject';
  if (SUBJECT_TOKENS.test(reply)) return undefined;
  // Refused: the first offending character says why.
  for (let i = 0; i < reply.length; i++) {
    const c = reply.charCodeAt(i);
    // wildcards, whitespace and control characters; an empty token
    if (c === 0x2a || c === 0x3e || c <= 0x20 || c === 0x7f) return 'reply subject has a wildcard, space or control character';
    if (c === 0x2e && (i === 0 || i === reply.length - 1 || reply.charCodeAt(i - 1) === 0x2e)) return 'reply subject has an empty token';
  }
  return undefined;
}

/** Whether `tag` (one token, no `.`) is the last token of `reply`: its last `.`-separated token is `tag`, compared in place. */
export function endsWithTag(reply: string, tag: string): boolean {
  const dot = reply.length - tag.length - 1;
  return dot < 0 ? reply === tag : reply.charCodeAt(dot) === 0x2e && reply.endsWith(tag);
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

/** An acknowledgement body: `<key> <consumed>`, consumed a whole number. Undefined when malformed. */
export function parseAck(body: string): { key: string; consumed: number } | undefined {
  if (body.length > 96) return undefined;
  const space = body.indexOf(' ');
  if (space < 0) return undefined;
  const key = body.slice(0, space);
  const count = body.slice(space + 1);
  if (!TOKEN_RE.test(key) || !/^[0-9]{1,15}$/.test(count)) return undefined;
  return { key, consumed: Number(count) };
}
