/**
 * Turns one message taken off an endpoint subject into a request, or into the reason it is not
 * one — a pure function of the message's bytes, reply subject and headers, tested without NATS.
 *
 * Order of checks (each failure is counted under exactly one `error_type`):
 *   header block over its limits          → invalid_message
 *   header block nats.js cannot parse     → deserialization
 *   content type unknown or repeated      → invalid_message
 *   body not decodable as its type        → deserialization
 *   protocol, request id, key, window     → invalid_message
 *   reply subject missing or forbidden    → response_stream
 *   reply's tag not proven by the key     → invalid_message
 */
import { ErrorType } from '../metrics/names.ts';
import { decodeBody, isContentType } from './codec.ts';
import type { HeaderBlock } from './header-block.ts';
import { single, type HeaderRead } from './message-headers.ts';
import {
  ContentType,
  DEFAULT_WINDOW,
  Header,
  MAX_WINDOW,
  PROTOCOL_VERSION,
  REQUEST_ID_RE,
  TOKEN_RE,
  endsWithTag,
  replySubjectRefusal,
} from './protocol.ts';
import { tagOf } from './request-secret.ts';

export interface ParsedRequest {
  readonly ok: true;
  readonly value: unknown;
  readonly requestId: string;
  /** The requester's key: the request's identity on this instance (acknowledgements name it, cancels prove it). */
  readonly key: string;
  readonly window: number;
  /** The request's headers, read and bounded: the handler's `ctx.headers`, where tracing finds the caller's context. */
  readonly headers: HeaderBlock | undefined;
}

/**
 * How a refused request is answered:
 * - `proven`: the requester showed the key of its reply subject — answer it like any stream;
 * - `unproven`: answer without naming this instance, so a client reading that reply subject for a
 *   request of its own drops it (someone else's garbage cannot end its stream), while a requester
 *   of another protocol version still learns why;
 * - `none`: no reply subject, or one the server never publishes to.
 */
export const Answer = { Proven: 'proven', Unproven: 'unproven', None: 'none' } as const;
export type Answer = (typeof Answer)[keyof typeof Answer];

export interface RefusedRequest {
  readonly ok: false;
  readonly errorType: ErrorType;
  readonly reason: string;
  readonly answer: Answer;
}

export type RequestParse = ParsedRequest | RefusedRequest;

const refuse = (errorType: ErrorType, reason: string, answer: Answer): RefusedRequest => ({ ok: false, errorType, reason, answer });

/** `endpointSubject` is the endpoint's shared subject, part of what the reply subject's tag proves. */
export function parseRequest(data: Uint8Array, reply: string, read: HeaderRead, endpointSubject: string): RequestParse {
  const replyProblem = replySubjectRefusal(reply);
  const canAnswer = replyProblem === undefined ? Answer.Unproven : Answer.None;
  if (!read.ok) {
    const type = read.reason.startsWith('malformed') ? ErrorType.Deserialization : ErrorType.InvalidMessage;
    return refuse(type, read.reason, canAnswer);
  }
  const h = read.headers;
  const contentType = single(h, Header.ContentType);
  if (contentType === null || (contentType !== '' && !isContentType(contentType))) {
    return refuse(ErrorType.InvalidMessage, `bad ${Header.ContentType} header`, canAnswer);
  }
  const type = contentType === '' ? ContentType.Json : contentType;
  const decoded = decodeBody(data, type);
  if (!decoded.ok) return refuse(ErrorType.Deserialization, decoded.reason, canAnswer);

  const version = single(h, Header.Protocol);
  if (version !== PROTOCOL_VERSION) {
    const why =
      version === ''
        ? `missing ${Header.Protocol} header`
        : version === null
          ? `repeated ${Header.Protocol} header`
          : `${Header.Protocol} ${version.slice(0, 16)} is not supported: this instance speaks protocol ${PROTOCOL_VERSION}`;
    return refuse(ErrorType.InvalidMessage, why, canAnswer);
  }
  const requestId = single(h, Header.RequestId);
  if (requestId === null || !REQUEST_ID_RE.test(requestId)) {
    return refuse(ErrorType.InvalidMessage, `missing, repeated or malformed ${Header.RequestId}`, canAnswer);
  }
  const key = single(h, Header.Key);
  if (key === null || !TOKEN_RE.test(key)) return refuse(ErrorType.InvalidMessage, `missing, repeated or malformed ${Header.Key}`, canAnswer);
  const windowText = single(h, Header.Window);
  const window = windowText === '' ? DEFAULT_WINDOW : Number(windowText);
  if (windowText === null || !Number.isInteger(window) || window < 1) {
    return refuse(ErrorType.InvalidMessage, `bad ${Header.Window} header`, canAnswer);
  }
  if (replyProblem !== undefined) return refuse(ErrorType.ResponseStream, replyProblem, Answer.None);
  if (!endsWithTag(reply, tagOf(key, endpointSubject, type, data))) {
    return refuse(ErrorType.InvalidMessage, `the reply subject is not this request's: ${Header.Key} does not prove it`, Answer.Unproven);
  }
  return { ok: true, value: decoded.value, requestId, key, window: Math.min(window, MAX_WINDOW), headers: h };
}
