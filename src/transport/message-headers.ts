/**
 * Reads a NATS message's header block at a bounded cost, never throwing. nats.js decodes headers
 * lazily on `msg.headers`, in time that grows with the square of the number of names, and throws
 * from that getter on a block it cannot parse; a subscription callback that lets it escape loses
 * its subscription. Every message the request plane takes goes through `readHeaders` first: the
 * block's size and lines are checked on its raw bytes, then it is read by `HeaderBlock`
 * (header-block.ts), which reads what nats.js reads at a fraction of its cost.
 */
import type { Msg } from '@nats-io/transport-node';
import { HeaderBlock, type HeaderLayout } from './header-block.ts';
import { MAX_HEADER_BYTES, MAX_HEADER_ENTRIES } from './protocol.ts';

export type HeaderRead =
  | { readonly ok: true; readonly headers: HeaderBlock | undefined }
  | { readonly ok: false; readonly reason: string };

/** The fields of nats.js's message class that hold the raw header block (`hdr` = its length, -1 for none). */
interface RawMsg {
  _msg?: { hdr?: unknown };
  _rdata?: unknown;
}

/**
 * The raw header block, when the message exposes it: undefined when it has none, null when this
 * nats.js does not expose it (then the size cannot be checked before decoding).
 */
export function rawHeaderBlock(msg: Msg): Uint8Array | undefined | null {
  const raw = msg as unknown as RawMsg;
  const length = raw._msg?.hdr;
  if (typeof length !== 'number' || !(raw._rdata instanceof Uint8Array)) return null;
  return length > 0 ? raw._rdata.subarray(0, length) : undefined;
}

/** A message without headers: nothing to read. */
const NONE: HeaderRead = Object.freeze({ ok: true, headers: undefined });

/**
 * Refuses blocks over the byte limit before reading them, and blocks over the line limit or that
 * nats.js could not decode after one linear read. `expected`: the layout most of these messages'
 * blocks have, read at once (`HeaderBlock.scan`).
 */
export function readHeaders(msg: Msg, expected?: HeaderLayout): HeaderRead {
  const raw = msg as unknown as RawMsg;
  const length = raw._msg?.hdr;
  // The block is the first `length` bytes of the message's data, read where it is (no view made).
  if (typeof length === 'number' && raw._rdata instanceof Uint8Array) return length > 0 ? readBlock(raw._rdata, length, expected) : NONE;
  // This nats.js does not expose the raw block: its decoding (unbounded) is all there is.
  let block: Uint8Array | undefined;
  try {
    block = (msg.headers as { encode(): Uint8Array } | undefined)?.encode();
  } catch (err) {
    return { ok: false, reason: `malformed header block: ${(err as Error).message}` };
  }
  return block === undefined ? NONE : readBlock(block, block.length, expected);
}

/** The block in the first `length` bytes of `bytes`. */
function readBlock(bytes: Uint8Array, length: number, expected: HeaderLayout | undefined): HeaderRead {
  if (length > MAX_HEADER_BYTES) return { ok: false, reason: `header block of ${length} bytes is over the ${MAX_HEADER_BYTES}-byte limit` };
  const headers = HeaderBlock.scan(bytes, length, expected);
  // the status line and the blank line that ends the block are not entries
  const lines = headers.lineFeeds - 2;
  if (lines > MAX_HEADER_ENTRIES) return { ok: false, reason: `header block of ${lines} lines is over the ${MAX_HEADER_ENTRIES}-entry limit` };
  if (headers.malformed !== undefined) return { ok: false, reason: `malformed header block: ${headers.malformed}` };
  return { ok: true, headers };
}

/** The header's only value: '' when absent, null when repeated (ambiguous). */
export function single(h: HeaderBlock | undefined, key: string): string | null {
  return h === undefined ? '' : h.single(key);
}
