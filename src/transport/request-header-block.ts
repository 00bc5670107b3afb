/**
 * The header block of a request that carries the protocol's headers and nothing else — no caller
 * headers, no trace context: most requests. nats.js's `MsgHdrs` builds a block by validating each
 * name and searching the names set so far, then encodes it, per request (docs/benchmarks.md, "The
 * request plane's cost"); these names and values are the protocol's own, known valid, so the
 * block is written as one string in the order `MsgHdrs` would write it. A request with anything
 * more goes through `MsgHdrs` as before. An instance reads a block of this layout by one match
 * (`REQUEST_LAYOUT`).
 */
import type { MsgHdrsImpl } from '@nats-io/transport-node';
import { headerLayout } from './header-block.ts';
import { EncodedHeaders } from './nats-wire.ts';
import { Header, PROTOCOL_VERSION } from './protocol.ts';

/** The names of the block `protocolHeaderBlock` writes, in its order. */
const NAMES = [Header.Protocol, Header.RequestId, Header.Key, Header.ContentType, Header.Window] as const;

/** The layout of the block `protocolHeaderBlock` writes: what an instance expects of a request's headers. */
export const REQUEST_LAYOUT = headerLayout(NAMES);

/** `Dynamo-Protocol`, `Dynamo-Request-Id`, `Dynamo-Key`, `Dynamo-Content-Type`, `Dynamo-Window`: the block of one request. */
export function protocolHeaderBlock(requestId: string, key: string, contentType: string, window: number): MsgHdrsImpl {
  // Request ids, keys, content types and windows are ASCII (protocol.ts): Latin-1 writes them byte for byte.
  const text = `NATS/1.0\r\n${Header.Protocol}: ${PROTOCOL_VERSION}\r\n${Header.RequestId}: ${requestId}\r\n${Header.Key}: ${key}\r\n${Header.ContentType}: ${contentType}\r\n${Header.Window}: ${window}\r\n\r\n`;
  return new EncodedHeaders(Buffer.from(text, 'latin1'));
}
