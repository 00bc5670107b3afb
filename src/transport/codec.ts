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

/** Throws only for values JSON cannot represent (BigInt, cycles) or `undefined`. */
export function encodeBody(value: unknown): Encoded {
  if (value instanceof Uint8Array) return { data: value, contentType: ContentType.Bytes };
  if (typeof value === 'string' && value.length <= MAX_FAST_STRING) {
    const data = encodeString(value);
    if (data !== undefined) return { data, contentType: ContentType.Json };
  }
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError(`cannot encode ${typeof value} as JSON`);
  // `Buffer.from` copies into a pooled slab: several times cheaper than `TextEncoder.encode` for
  // the short strings most bodies are (docs/benchmarks.md, "The request plane's cost").
  return { data: Buffer.from(json, 'utf8'), contentType: ContentType.Json };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Strings up to this long take the fast path: its buffer (three bytes a character at most) comes from Node's pool. */
const MAX_FAST_STRING = 1024;

/**
 * A string's JSON text, written straight into bytes: quote, UTF-8, quote. That is exactly what
 * `JSON.stringify` would write unless the string holds something JSON escapes — a quote, a
 * backslash, a control character, or a lone surrogate (which UTF-8 writes as U+FFFD, EF BF BD) —
 * and one pass over the bytes finds those; then it is undefined and the caller takes the general
 * way. Streams of strings (tokens) are the common case, and this is about half the cost of
 * `JSON.stringify` plus an encoding.
 */
function encodeString(value: string): Uint8Array | undefined {
  const out = Buffer.allocUnsafe(value.length * 3 + 2);
  out[0] = QUOTE;
  const end = out.write(value, 1, 'utf8') + 1;
  for (let i = 1; i < end; i++) {
    const b = out[i]!;
    if (b < 0x20 || b === QUOTE || b === BACKSLASH || (b === 0xef && out[i + 1] === 0xbf && out[i + 2] === 0xbd)) return undefined;
  }
  out[end] = QUOTE;
  return out.subarray(0, end + 1);
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
