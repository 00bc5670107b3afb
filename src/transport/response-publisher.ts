/**
 * Publishes one stream's messages on the requester's reply subject and reports each published
 * payload to the observer. Encoding or publishing failures are thrown as `PublishFailure`
 * (`FinalFailure` for the end-of-stream message), so the caller counts the right `error_type`.
 */
import { MsgHdrsImpl, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../logging/logger.ts';
import type { PublishClock } from '../metrics/endpoint-recorder.ts';
import { encodePayload, wireSize, type WireBody } from './codec.ts';
import { headerLayout } from './header-block.ts';
import { ContentType, Header, MessageKind, PROTOCOL_VERSION, type EndOfStream } from './protocol.ts';
import { TurnOutbox } from './turn-outbox.ts';

/** What a publisher reports to: the endpoint's metrics. */
export interface PublishObserver {
  responsePublished(bytes: number): void;
}

/** A response could not be encoded or published. */
export class PublishFailure extends Error {}
/** The end-of-stream message could not be encoded or published. */
export class FinalFailure extends PublishFailure {}

const MAX_ERROR_TEXT = 4096;

/**
 * A header block that never changes after it is built: encoded once, by nats.js's own `MsgHdrs`
 * (so it is what nats.js would write), not on every publish.
 */
function fixedHeaders(entries: Array<[string, string]>): Uint8Array {
  const h = new MsgHdrsImpl();
  for (const [k, v] of entries) h.set(k, v);
  return h.encode();
}

/** HTTP-like codes for the service API's `Nats-Service-Error-Code`: the caller's fault, the endpoint's, or unavailable. */
const SERVICE_ERROR_CODE: Readonly<Record<string, number>> = {
  deserialization: 400,
  invalid_message: 400,
  response_stream: 400,
  generate: 500,
  publish_response: 500,
  publish_final: 500,
  overloaded: 503,
  unavailable: 503,
  shutting_down: 503,
  cancelled: 499,
};

/** A header value: one line, printable, short. */
function serviceErrorText(message: string): string {
  return message.replace(/[\r\n\t\x00-\x1f\x7f]+/g, ' ').slice(0, 256);
}

/**
 * Header blocks that report a load, and end-of-stream bodies, are kept for values up to this; past
 * it (rare: that many requests in flight on one instance, or data messages in one stream) one is
 * built per message.
 */
const CACHED = 256;

/** One fixed header block per load value, built on first use. */
function byLoad(entries: (load: number) => Array<[string, string]>): (load: number) => Uint8Array {
  const blocks: Uint8Array[] = [];
  return (load) => (load >= CACHED ? fixedHeaders(entries(load)) : (blocks[load] ??= fixedHeaders(entries(load))));
}

/**
 * The layout of a JSON data message's block as `instanceHeaders` writes it — most of what a
 * client's stream reads, which it reads by this layout (response-stream.ts).
 */
export const DATA_LAYOUT = headerLayout([Header.Protocol, Header.Instance, Header.Kind]);

/**
 * The header blocks of one instance: every response names the instance, so a client reads one
 * instance per stream. A JSON body carries no content type (JSON is what its absence means): it
 * is most bodies, and the header would be a third of a short response's bytes on the wire.
 */
export function instanceHeaders(instanceId: string) {
  const base: Array<[string, string]> = [
    [Header.Protocol, PROTOCOL_VERSION],
    [Header.Instance, instanceId],
  ];
  const typed = (contentType: ContentType): Array<[string, string]> => (contentType === ContentType.Json ? [] : [[Header.ContentType, contentType]]);
  const reporting = (kind: MessageKind, contentType: ContentType) => byLoad((load) => [...base, [Header.Kind, kind], ...typed(contentType), [Header.Load, String(load)]]);
  return {
    dataJson: fixedHeaders([...base, [Header.Kind, MessageKind.Data]]),
    dataBytes: fixedHeaders([...base, [Header.Kind, MessageKind.Data], ...typed(ContentType.Bytes)]),
    /** The end-of-stream block reporting `load` other requests in flight. */
    end: reporting(MessageKind.End, ContentType.Json),
    /** The blocks of a `last` message (the one response, and the end) reporting `load`. */
    lastJson: reporting(MessageKind.Last, ContentType.Json),
    lastBytes: reporting(MessageKind.Last, ContentType.Bytes),
  };
}

/** `{"count":N}`, the end-of-stream body of a stream without a final value, kept per count: nothing writes to a published payload, so one buffer serves every message. */
const endBodies: Uint8Array[] = [];

function endBody(count: number, final: unknown): Uint8Array {
  if (final === undefined && count < CACHED) return (endBodies[count] ??= Buffer.from(JSON.stringify({ count })));
  const body: EndOfStream & { final?: unknown } = final === undefined ? { count } : { count, final };
  return Buffer.from(JSON.stringify(body));
}

export class ResponsePublisher {
  private readonly instanceId: string;
  private readonly observer: PublishObserver;
  private readonly logger: Logger;
  private readonly headers: ReturnType<typeof instanceHeaders>;
  /** A stream's data messages wait for the end of the turn, and go out together (turn-outbox.ts). */
  private readonly outbox: TurnOutbox;
  /** What published messages are timed by: the outbox, which knows which leave together. */
  readonly clock: PublishClock;

  constructor(nc: NatsConnection, instanceId: string, observer: PublishObserver, logger: Logger) {
    this.instanceId = instanceId;
    this.observer = observer;
    this.logger = logger;
    this.headers = instanceHeaders(instanceId);
    this.outbox = new TurnOutbox(nc, logger);
    this.clock = this.outbox;
  }

  /** Returns the payload's size in bytes. */
  publishData(reply: string, value: unknown, index: number): number {
    return this.publishResponse(reply, value, index, undefined);
  }

  /** Hands every waiting message to nats.js (a stopping endpoint: before the connection closes). */
  flush(): void {
    this.outbox.flush();
  }

  /**
   * The stream's one response, which also ends it (`last`): what a handler that returns a value is
   * answered with. `load`: the other requests the instance has in flight. Its failures are the
   * response's (`PublishFailure`): the data could not be sent.
   */
  publishLast(reply: string, value: unknown, load: number): void {
    this.publishResponse(reply, value, 0, load);
  }

  /** A `data` message, or a `last` one when `load` is given. Returns the payload's size in bytes. */
  private publishResponse(reply: string, value: unknown, index: number, load: number | undefined): number {
    let data: WireBody;
    let header: Uint8Array;
    try {
      const enc = encodePayload(value);
      data = enc.data;
      const json = enc.contentType === ContentType.Json;
      if (load === undefined) header = json ? this.headers.dataJson : this.headers.dataBytes;
      else header = json ? this.headers.lastJson(load) : this.headers.lastBytes(load);
    } catch (err) {
      throw new PublishFailure(`response ${index} cannot be encoded: ${(err as Error).message}`, { cause: err });
    }
    const size = wireSize(data);
    try {
      this.outbox.publish(reply, header, data, load === undefined);
    } catch (err) {
      throw new PublishFailure(`response ${index} (${size} bytes) cannot be published: ${(err as Error).message}`, { cause: err });
    }
    this.observer.responsePublished(size);
    return size;
  }

  /** `load`: the other requests the instance has in flight, reported to the caller's router. */
  publishEnd(reply: string, count: number, final: unknown, load: number): void {
    let data: Uint8Array;
    try {
      data = endBody(count, final);
    } catch (err) {
      throw new FinalFailure(`the end-of-stream message cannot be encoded: ${(err as Error).message}`, { cause: err });
    }
    try {
      this.outbox.publish(reply, this.headers.end(load), data, false);
    } catch (err) {
      throw new FinalFailure(`the end-of-stream message (${data.length} bytes) cannot be published: ${(err as Error).message}`, { cause: err });
    }
    this.observer.responsePublished(data.length);
  }

  /**
   * Best effort: the error message is small, but the connection may be gone. `proven` is false
   * for answers to requests that did not show the key of their reply subject: those do not name
   * this instance, so a stream reading that subject drops them (see request-parser.ts). `load`:
   * the other requests the instance has in flight (not sent on unproven answers).
   */
  publishError(reply: string, type: string, message: string, load: number, proven = true): void {
    const h = new MsgHdrsImpl();
    h.set(Header.Protocol, PROTOCOL_VERSION);
    if (proven) {
      h.set(Header.Instance, this.instanceId);
      h.set(Header.Load, String(load));
    }
    h.set(Header.Kind, MessageKind.Error);
    h.set(Header.ErrorType, type);
    // The NATS service API's error headers, so standard tooling reads our errors too.
    h.set('Nats-Service-Error', serviceErrorText(message));
    h.set('Nats-Service-Error-Code', String(SERVICE_ERROR_CODE[type] ?? 500));
    const data = Buffer.from(JSON.stringify({ type, message: message.slice(0, MAX_ERROR_TEXT) }));
    try {
      this.outbox.publish(reply, h.encode(), data, false);
      this.observer.responsePublished(data.length);
    } catch (err) {
      this.logger.debug('error response could not be published', { error: err });
    }
  }
}
