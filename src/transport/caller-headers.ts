/**
 * Headers a caller adds to a request (`generate(request, { headers })`), and the limits of the
 * whole block. The protocol's own headers cannot be set or shadowed by a caller, and a request the
 * instances would refuse for its header block is refused here, before it is sent: the caller gets
 * a clear error instead of a remote `invalid_message`.
 */
import type { MsgHdrs } from '@nats-io/transport-node';
import { DynamoError, ErrorCode } from '../errors.ts';
import { MAX_HEADER_BYTES, MAX_HEADER_ENTRIES } from './protocol.ts';

/** An HTTP token (RFC 9110): what NATS, and every propagator, accept as a header name. */
const HEADER_NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$/;

/** Prefixes no caller may use, in any case: `Dynamo-*` is the protocol's, `Nats-*` the NATS server's and JetStream's. */
const RESERVED_PREFIXES = ['dynamo-', 'nats-'] as const;

/** Whether a header name belongs to the protocol (or to NATS). */
export function isReservedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return RESERVED_PREFIXES.some((prefix) => lower.startsWith(prefix));
}

/** Adds the caller's headers to `h`; throws `DYN_ERR_INVALID_HEADER` (naming the header) before anything is added when one cannot go. */
export function addCallerHeaders(h: MsgHdrs, extra: Readonly<Record<string, string | readonly string[]>>): void {
  if (extra === null || typeof extra !== 'object') throw new DynamoError(ErrorCode.InvalidHeader, 'headers must be an object of header names to strings');
  const entries = Object.entries(extra);
  for (const [name, value] of entries) {
    if (!HEADER_NAME_RE.test(name)) throw new DynamoError(ErrorCode.InvalidHeader, `header name ${JSON.stringify(name.slice(0, 64))} is not a valid header name`);
    if (isReservedHeader(name)) throw new DynamoError(ErrorCode.InvalidHeader, `header ${name} is reserved for the request protocol (Dynamo-*, Nats-*): it cannot be set by a caller`);
    for (const v of typeof value === 'string' ? [value] : Array.isArray(value) ? value : [value]) {
      if (typeof v !== 'string') throw new DynamoError(ErrorCode.InvalidHeader, `header ${name} must have a string value, got ${typeof v}`);
      if (/[\r\n]/.test(v)) throw new DynamoError(ErrorCode.InvalidHeader, `header ${name} has a line break in its value`);
    }
  }
  for (const [name, value] of entries) {
    if (typeof value === 'string') h.set(name, value);
    else for (const v of value) h.append(name, v);
  }
}

/**
 * Throws `DYN_ERR_HEADERS_TOO_LARGE` when the block is over the limits an instance checks before
 * decoding it (message-headers.ts): the same byte and entry counts, computed from the headers.
 */
export function checkHeaderBlock(h: MsgHdrs): void {
  // `NATS/1.0\r\n`, then `name: value\r\n` per entry, then `\r\n`
  let bytes = 12;
  let entries = 0;
  for (const [name, values] of h) {
    for (const value of values) {
      entries++;
      bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 4;
    }
  }
  if (bytes > MAX_HEADER_BYTES || entries > MAX_HEADER_ENTRIES) {
    throw new DynamoError(
      ErrorCode.HeadersTooLarge,
      `request headers of ${bytes} bytes in ${entries} entries are over the limit of ${MAX_HEADER_BYTES} bytes and ${MAX_HEADER_ENTRIES} entries (protocol, trace context and your headers together); nothing was sent`,
    );
  }
}
