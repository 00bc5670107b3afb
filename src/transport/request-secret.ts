/**
 * What binds a request to its requester (docs/protocol.md, "Binding a request to its requester").
 *
 *   secret = crypto.randomUUID()                          122 random bits, kept by the requester
 *   key    = H(secret)                                    sent in the request (`Dynamo-Key`) and in acknowledgements
 *   tag    = H(key ⏎ endpoint subject ⏎ content type ⏎ body)   the last token of the request's reply subject
 *
 * H is SHA-256, base64url, first 22 characters (132 bits). The server answers a request only when
 * its reply subject ends with the tag of its key, endpoint, content type and body; it accepts an
 * acknowledgement only with the key and a cancel only with the secret. Each value reveals nothing
 * of the one it came from, so:
 * - whoever learns a reply subject cannot have any instance answer it;
 * - whoever reads a request cannot cancel it, nor have its reply subject answered for another
 *   endpoint or another body (at most replay it unchanged);
 * - whoever reads acknowledgements can acknowledge, never past what was sent.
 */
import { createHash, hash as oneShotHash, randomUUID } from 'node:crypto';

const LENGTH = 22;

/** `crypto.hash` (Node ≥ 20.12; about twice as fast as a `Hash` object for inputs this short) where it exists. */
const digest: (input: string | Uint8Array) => string =
  typeof oneShotHash === 'function'
    ? (input) => oneShotHash('sha256', input, 'base64url')
    : (input) => createHash('sha256').update(input).digest('base64url');

/** The one-way step from a secret to its key. */
export function keyOf(secret: string): string {
  return digest(secret).slice(0, LENGTH);
}

/**
 * Where a tag's input is assembled: one buffer for the process (a larger body gets a buffer of its
 * own, so the process never keeps its largest body's worth). The hash is synchronous, so no two
 * tags ever share it at once; assembling in place costs less than allocating per request, and one
 * one-shot hash less than feeding a Hash object twice.
 */
const scratch = Buffer.allocUnsafe(64 * 1024);

/** The tag a reply subject must end with for a request with this key, endpoint, content type and body. */
export function tagOf(key: string, endpointSubject: string, contentType: string, body: Uint8Array): string {
  // keys, subjects and content types are ASCII: Latin-1 writes them byte for byte
  const prefix = `${key}\n${endpointSubject}\n${contentType}\n`;
  const size = prefix.length + body.length;
  const input = size <= scratch.length ? scratch : Buffer.allocUnsafe(size);
  input.write(prefix, 0, 'latin1');
  input.set(body, prefix.length);
  return digest(input.subarray(0, size)).slice(0, LENGTH);
}

export interface RequestSecret {
  readonly secret: string;
  readonly key: string;
}

export function newRequestSecret(): RequestSecret {
  const secret = randomUUID();
  return { secret, key: keyOf(secret) };
}
