/**
 * Builds request-plane messages by hand, for tests that talk to an endpoint through a raw NATS
 * connection (no code of the package's client). The secret → key → tag derivation is written
 * here again from docs/protocol.md, so these tests check the protocol, not the package against
 * itself.
 */
import { createHash, randomUUID } from 'node:crypto';
import { headers, type MsgHdrs } from '@nats-io/transport-node';

const sha22 = (...parts: Array<string | Uint8Array>): string => {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return h.digest('base64url').slice(0, 22);
};

export interface RawRequest {
  /** Publish these bytes… */
  data: Uint8Array;
  /** …with these headers… */
  headers: MsgHdrs;
  /** …and this reply subject (`<inbox>.<tag>`). */
  reply: string;
  secret: string;
  key: string;
  tag: string;
  requestId: string;
}

export interface RawRequestOptions {
  /** Reply subjects go under this inbox. Default `_INBOX.raw`. */
  inbox?: string;
  requestId?: string;
  window?: number;
  contentType?: string;
  /** Extra header lines, appended as given. */
  extra?: Array<[string, string]>;
}

let counter = 0;

/** The tag a reply subject must end with (docs/protocol.md). */
export function tagFor(key: string, endpointSubject: string, contentType: string, body: Uint8Array): string {
  return sha22(`${key}\n${endpointSubject}\n${contentType}\n`, body);
}

/** A valid protocol-2 request for `endpointSubject` whose key proves its reply subject. */
export function rawRequest(endpointSubject: string, body: string | Uint8Array, options: RawRequestOptions = {}): RawRequest {
  const data = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const contentType = options.contentType ?? 'application/json';
  const secret = randomUUID();
  const key = sha22(secret);
  const tag = tagFor(key, endpointSubject, contentType, data);
  const requestId = options.requestId ?? `raw-${++counter}`;
  const h = headers();
  h.set('Dynamo-Protocol', '2');
  h.set('Dynamo-Request-Id', requestId);
  h.set('Dynamo-Key', key);
  h.set('Dynamo-Content-Type', contentType);
  if (options.window !== undefined) h.set('Dynamo-Window', String(options.window));
  for (const [k, v] of options.extra ?? []) h.append(k, v);
  return { data, headers: h, reply: `${options.inbox ?? '_INBOX.raw'}.${tag}`, secret, key, tag, requestId };
}
