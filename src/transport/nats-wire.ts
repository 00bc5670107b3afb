/**
 * Publishes messages by writing their NATS protocol commands ourselves — `HPUB <subject> <header
 * bytes> <total bytes>␍␊<header block><payload>␍␊` (`PUB` without headers), the client protocol's
 * own format — into one buffer per batch, handed to the connection's outbound queue in one call.
 *
 * Why not `nc.publish` per message: for each one, nats.js tests the subject against a regular
 * expression, formats the command line as a string, encodes it with a `TextEncoder` and queues
 * three buffers, which it copies together again at its next flush — most of what a streamed
 * response cost the instance (docs/benchmarks.md, "The request plane's cost"). Here a batch's
 * command lines are written straight into the one buffer its headers and payloads are copied to.
 *
 * The queue is nats.js's `protocol.sendCommand`, the one its own publish ends in: what is written
 * there is flushed, buffered while reconnecting and sent after, exactly as a published message.
 * It is not public API: when a connection does not have it, every message goes through
 * `nc.publish` instead, and test/transport/nats-wire.test.ts holds the installed nats.js to
 * having it and to byte-identical messages either way. The checks `nc.publish` makes are made
 * here first, with the same outcome: a closed or draining connection, a subject with white space,
 * a message over the server's `max_payload` throw before anything is written.
 */
import { MsgHdrsImpl, type NatsConnection } from '@nats-io/transport-node';

/**
 * One message: its subject, its encoded header block (none: `PUB`), its payload — bytes, or text
 * of one byte per character (ASCII: `encodePayload`, codec.ts), whose length is its size.
 */
export interface WireMessage {
  readonly subject: string;
  readonly header: Uint8Array | undefined;
  readonly data: Uint8Array | string;
  /** The subject's UTF-8, as `checkQueued` returned it. */
  readonly subjectBytes?: Uint8Array | undefined;
}

/** The part of nats.js's protocol handler its publish goes through (`nats-core/lib/protocol.js`). */
interface ProtocolHandler {
  sendCommand(command: Uint8Array): void;
  /** Set once a draining connection's subscriptions are drained: from then on nats.js refuses to publish. */
  noMorePublishing: boolean;
  outMsgs: number;
  outBytes: number;
}

/** A header block already encoded, for `nc.publish` (which calls nothing but `encode()` on it). */
export class EncodedHeaders extends MsgHdrsImpl {
  private readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    super();
    this.bytes = bytes;
  }

  override encode(): Uint8Array {
    return this.bytes;
  }
}

/**
 * A subject that cannot end a command line early or split it: no white space (what nats.js
 * refuses), no other control character. Reply subjects are held to far more before they get here
 * (`replySubjectRefusal`, protocol.ts); this keeps a command line one command whatever the caller.
 * Anchored: a whole-string match is several times faster here than a search for a bad character.
 */
const SAFE_SUBJECT = /^[^\x00-\x20\x7f]+$/;

/** Throws for a subject that could end or split a command line. */
function refuseUnsafe(subject: string): void {
  if (!SAFE_SUBJECT.test(subject)) throw new Error(`invalid subject ${JSON.stringify(subject.slice(0, 256))}`);
}

/** Subjects kept encoded (`NatsWire.checkQueued`) before the set starts over: a few turns' worth of streams, bounded. */
const SUBJECTS_KEPT = 256;

/** The most a command line adds to its subject: `HPUB`, spaces, two sizes, CRLF. */
const LINE_OVERHEAD = 48;

/** Buffers for batches are cut from slabs of this size (a larger batch gets its own). */
const SLAB_BYTES = 256 * 1024;

const PUB = Buffer.from('PUB ', 'latin1');
const HPUB = Buffer.from('HPUB ', 'latin1');

function handlerOf(nc: NatsConnection): ProtocolHandler | undefined {
  const protocol = (nc as { protocol?: Partial<ProtocolHandler> }).protocol;
  if (protocol === undefined || typeof protocol.sendCommand !== 'function') return undefined;
  if (typeof protocol.outMsgs !== 'number' || typeof protocol.outBytes !== 'number' || typeof protocol.noMorePublishing !== 'boolean') return undefined;
  return protocol as ProtocolHandler;
}

/** Writes `n` (a whole number ≥ 0) in decimal ASCII at `at`; returns where it ends. */
function writeDecimal(out: Buffer, at: number, n: number): number {
  let end = at + 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) end++;
  for (let i = end - 1, rest = n; i >= at; i--, rest = Math.floor(rest / 10)) out[i] = 0x30 + (rest % 10);
  return end;
}

export class NatsWire {
  private readonly nc: NatsConnection;
  /** Undefined when this nats.js does not expose its outbound queue: then `nc.publish` per message. */
  private readonly protocol: ProtocolHandler | undefined;
  /** The last subject found safe (`check`). */
  private safeSubject: string | undefined;
  /**
   * The subjects of queued messages, found safe and encoded once (`checkQueued`): a stream's
   * messages all go to one reply subject, and the streams of a turn interleave theirs. Starts
   * over once it holds `SUBJECTS_KEPT` (what a message took with it stays valid).
   */
  private readonly subjects = new Map<string, Uint8Array>();
  /**
   * Where batches are cut from, one after the other, never twice: nats.js and the socket may hold
   * a batch until it is written, so no region is reused, and a slab lives as long as one of its
   * batches does. One allocation serves many turns instead of one each.
   */
  private slab = Buffer.allocUnsafeSlow(0);
  private slabUsed = 0;

  constructor(nc: NatsConnection) {
    this.nc = nc;
    this.protocol = handlerOf(nc);
  }

  /** Whether messages are written to the outbound queue (else through `nc.publish`). */
  get direct(): boolean {
    return this.protocol !== undefined;
  }

  /** Throws where `nc.publish` would refuse the message: a closed or draining connection, a bad subject, too many bytes. */
  check(subject: string, header: Uint8Array | undefined, data: Uint8Array | string): void {
    this.usable();
    if (subject !== this.safeSubject) {
      refuseUnsafe(subject);
      this.safeSubject = subject;
    }
    this.fits(header, data);
  }

  /**
   * `check`, for a message queued for a batch (`publishChecked`): its subject is kept, encoded,
   * for the next messages to it. Returns the encoding, for the message's `subjectBytes`.
   */
  checkQueued(subject: string, header: Uint8Array | undefined, data: Uint8Array | string): Uint8Array {
    this.usable();
    let encoded = this.subjects.get(subject);
    if (encoded === undefined) {
      refuseUnsafe(subject);
      if (this.subjects.size >= SUBJECTS_KEPT) this.subjects.clear();
      encoded = Buffer.from(subject, 'utf8');
      this.subjects.set(subject, encoded);
    }
    this.fits(header, data);
    return encoded;
  }

  /** Throws when nothing can be published: the connection is closed, or draining. */
  private usable(): void {
    if (this.nc.isClosed()) throw new Error('the NATS connection is closed');
    if (this.protocol?.noMorePublishing === true) throw new Error('the NATS connection is draining');
  }

  /** Throws when the server takes no such message: headers it does not accept, more than its `max_payload`. */
  private fits(header: Uint8Array | undefined, data: Uint8Array | string): void {
    const info = this.nc.info;
    if (header !== undefined && info?.headers === false) throw new Error('the NATS server does not accept headers');
    const size = data.length + (header?.length ?? 0);
    if (info !== undefined && size > info.max_payload) throw new Error(`${size} bytes with headers are over the NATS server's max_payload of ${info.max_payload} bytes`);
  }

  /** Checks and publishes one message. */
  publish(subject: string, header: Uint8Array | undefined, data: Uint8Array | string): void {
    this.check(subject, header, data);
    if (this.protocol === undefined) this.nc.publish(subject, data, header === undefined ? undefined : { headers: new EncodedHeaders(header) });
    else this.write([{ subject, header, data }], this.protocol);
  }

  /**
   * Publishes messages checked earlier (`check`, `checkQueued`), in order: as one buffer, when
   * the queue is exposed. The connection is checked again: it may have closed or begun draining since.
   */
  publishChecked(messages: readonly WireMessage[]): void {
    this.usable();
    if (this.protocol !== undefined) return this.write(messages, this.protocol);
    for (const { subject, header, data } of messages) this.nc.publish(subject, data, header === undefined ? undefined : { headers: new EncodedHeaders(header) });
  }

  private write(messages: readonly WireMessage[], protocol: ProtocolHandler): void {
    let capacity = 0;
    // A subject's UTF-8 takes at most three bytes per UTF-16 unit.
    for (const m of messages) capacity += 3 * m.subject.length + LINE_OVERHEAD + (m.header?.length ?? 0) + m.data.length;
    const out = this.room(capacity);
    const start = out === this.slab ? this.slabUsed : 0;
    let at = start;
    let bytes = 0;
    for (const { subject, header, data, subjectBytes } of messages) {
      // `HPUB <subject> <header bytes> <size>␍␊<header><data>␍␊`, `PUB <subject> <size>␍␊<data>␍␊`
      const size = data.length + (header?.length ?? 0);
      out.set(header === undefined ? PUB : HPUB, at);
      at += header === undefined ? PUB.length : HPUB.length;
      if (subjectBytes === undefined) {
        at += out.write(subject, at, 'utf8');
      } else {
        out.set(subjectBytes, at);
        at += subjectBytes.length;
      }
      out[at++] = 0x20;
      if (header !== undefined) {
        at = writeDecimal(out, at, header.length);
        out[at++] = 0x20;
      }
      at = writeDecimal(out, at, size);
      out[at++] = 0x0d;
      out[at++] = 0x0a;
      if (header !== undefined) {
        out.set(header, at);
        at += header.length;
      }
      if (typeof data === 'string') out.write(data, at, 'latin1');
      else out.set(data, at);
      at += data.length;
      out[at++] = 0x0d;
      out[at++] = 0x0a;
      bytes += size;
    }
    if (out === this.slab) this.slabUsed = at;
    // nats.js's counters, kept as its publish keeps them (`nc.stats()`).
    protocol.outMsgs += messages.length;
    protocol.outBytes += bytes;
    protocol.sendCommand(out.subarray(start, at));
  }

  /**
   * Where `capacity` bytes that nothing else will ever write to can go: the slab, from
   * `slabUsed` on (a new one when it has not that much left; what the batch uses of it is taken
   * after), or, for a large batch, a buffer of its own.
   */
  private room(capacity: number): Buffer {
    if (capacity > SLAB_BYTES / 4) return Buffer.allocUnsafeSlow(capacity);
    if (this.slabUsed + capacity > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.slabUsed = 0;
    }
    return this.slab;
  }
}
