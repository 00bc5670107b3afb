/**
 * Bodies: JSON values by default; `Uint8Array` passes through untouched, marked as bytes.
 * Decoding failures are reported as values, not thrown, so the caller can count them.
 */
import { ContentType } from './protocol.ts';

const decoder = new TextDecoder('utf-8', { fatal: true });

export interface Encoded {
  readonly data: Uint8Array;
  readonly contentType: ContentType;
}

/**
 * A body as the wire writer takes it (nats-wire.ts): bytes, or a plain string — printable ASCII
 * with nothing JSON escapes (`PLAIN`) — which the writer copies into the message between quotes,
 * as its JSON text, one byte per character: no JSON text is made of it, and no bytes of that to
 * copy again.
 */
export type WireBody = Uint8Array | string;

/** A body's size on the wire. */
export function wireSize(body: WireBody): number {
  return typeof body === 'string' ? body.length + 2 : body.length;
}

/** The bytes a body stands for. */
export function wireBytes(body: WireBody): Uint8Array {
  return typeof body === 'string' ? Buffer.from(`"${body}"`, 'latin1') : body;
}

/** A body, and what it is. */
export interface Payload {
  readonly data: WireBody;
  readonly contentType: ContentType;
}

/** A string that is its own JSON text between quotes, one byte per character: printable ASCII (and DEL), no quote, no backslash. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7f]*$/;

/**
 * What `JSON.stringify` escapes in a string: a quote, a backslash, a control character, a lone
 * surrogate (any surrogate here: a string with an emoji takes the general way, which is correct).
 */
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * Throws only for values JSON cannot represent (BigInt, cycles) or `undefined`. Streams of
 * strings (tokens) are the common case: a string with nothing to escape is its JSON text between
 * quotes, which costs about half of `JSON.stringify` and an encoding.
 */
export function encodeBody(value: unknown): Encoded {
  const payload = encodePayload(value);
  return typeof payload.data === 'string' ? { data: wireBytes(payload.data), contentType: payload.contentType } : (payload as Encoded);
}

/** `encodeBody`, with a plain string (`PLAIN`) left as it is, for the writer to copy between quotes. */
export function encodePayload(value: unknown): Payload {
  if (value instanceof Uint8Array) return { data: value, contentType: ContentType.Bytes };
  if (typeof value === 'string' && PLAIN.test(value)) return { data: value, contentType: ContentType.Json };
  return encodeJson(value);
}

/** Any value but bytes and plain strings. */
function encodeJson(value: unknown): Encoded {
  if (typeof value === 'string' && !ESCAPED.test(value)) return { data: Buffer.from(`"${value}"`, 'utf8'), contentType: ContentType.Json };
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError(`cannot encode ${typeof value} as JSON`);
  // `Buffer.from` copies into a pooled slab: several times cheaper than `TextEncoder.encode` for
  // the short strings most bodies are (docs/benchmarks.md, "The request plane's cost").
  return { data: Buffer.from(json, 'utf8'), contentType: ContentType.Json };
}

export type Decoded = { ok: true; value: unknown } | { ok: false; reason: string };

export function isContentType(value: string): value is ContentType {
  return value === ContentType.Json || value === ContentType.Bytes;
}

/** Decodes `data` as `contentType` (JSON when not given). */
export function decodeBody(data: Uint8Array, contentType: ContentType = ContentType.Json): Decoded {
  if (contentType === ContentType.Bytes) return { ok: true, value: data };
  if (data.length === 0) return { ok: false, reason: 'empty body is not JSON' };
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    return { ok: false, reason: 'body is not valid UTF-8' };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, reason: `body is not valid JSON: ${(err as Error).message}` };
  }
}
