/**
 * Publishes messages by writing their NATS protocol commands ourselves — `HPUB <subject> <header
 * bytes> <total bytes>␍␊<header block><payload>␍␊` (`PUB` without headers), the client protocol's
 * own format — into one buffer per batch, handed to the connection's outbound queue in one call.
 *
 * Why not `nc.publish` per message: for each one, nats.js tests the subject against a regular
 * expression, formats the command line as a string, encodes it with a `TextEncoder` and queues
 * three buffers, which it copies together again at its next flush — most of what a streamed
 * response cost the instance (docs/benchmarks.md, "The request plane's cost"). Here each message
 * is written, command line, header block and body, when it is queued, straight into the buffer its
 * batch leaves in: no object is kept per message, and nothing is copied twice.
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
import { wireBytes, wireSize, type WireBody } from './codec.ts';

/** A message held for `nc.publish` (a nats.js that does not expose its queue). */
interface HeldMessage {
  readonly subject: string;
  readonly header: Uint8Array | undefined;
  readonly body: WireBody;
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

/** Subjects kept encoded (`NatsWire.queue`) before the set starts over: a few turns' worth of streams, bounded. */
const SUBJECTS_KEPT = 256;

/** The most a command line adds to its subject: `HPUB`, spaces, two sizes, CRLF. */
const LINE_OVERHEAD = 48;

/** Batches are written into slabs of this size; a message over a quarter of it gets a buffer of its own. */
const SLAB_BYTES = 256 * 1024;

const QUOTE = 0x22;

/**
 * Buffer's own Latin-1 writer, which `write(text, at, 'latin1')` ends in after normalizing and
 * checking its arguments — a good part of what writing a short body costs. Not documented, so
 * used only where it is there (on every Node this package supports), else `write`.
 */
type Latin1Writer = (this: Buffer, text: string, at: number, length: number) => number;
const latin1Write = (Buffer.prototype as Buffer & { latin1Write?: Latin1Writer }).latin1Write;
const writeLatin1: (out: Buffer, text: string, at: number) => void =
  typeof latin1Write === 'function' ? (out, text, at) => void latin1Write.call(out, text, at, text.length) : (out, text, at) => void out.write(text, at, 'latin1');

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

/**
 * Writes one message's command at `at` — `HPUB <subject> <header bytes> <total bytes>␍␊<header>
 * <body>␍␊`, `PUB <subject> <total bytes>␍␊<body>␍␊` — and returns where it ends. `out` has room;
 * `size`: the total bytes, header and body.
 */
function writeMessage(out: Buffer, at: number, subject: string, subjectBytes: Uint8Array | undefined, header: Uint8Array | undefined, body: WireBody, size: number): number {
  if (header === undefined) {
    out[at++] = 0x50; // P
  } else {
    out[at++] = 0x48; // H
    out[at++] = 0x50; // P
  }
  out[at++] = 0x55; // U
  out[at++] = 0x42; // B
  out[at++] = 0x20;
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
  if (typeof body === 'string') {
    out[at++] = QUOTE;
    writeLatin1(out, body, at);
    at += body.length;
    out[at++] = QUOTE;
  } else {
    out.set(body, at);
    at += body.length;
  }
  out[at++] = 0x0d;
  out[at++] = 0x0a;
  return at;
}

export class NatsWire {
  private readonly nc: NatsConnection;
  /** Undefined when this nats.js does not expose its outbound queue: then `nc.publish` per message. */
  private readonly protocol: ProtocolHandler | undefined;
  /** The last subject found safe (`check`). */
  private safeSubject: string | undefined;
  /**
   * The subjects of queued messages, found safe and encoded once: a stream's messages all go to
   * one reply subject, and the streams of a turn interleave theirs. Starts over once it holds
   * `SUBJECTS_KEPT` (an encoding already taken stays valid).
   */
  private readonly subjects = new Map<string, Uint8Array>();
  /**
   * Where messages are written, one after the other, never twice: nats.js and the socket may hold
   * what was handed over until it is written, so no region is reused, and a slab lives as long as
   * one of its batches does. One allocation serves many turns instead of one each.
   */
  private slab = Buffer.allocUnsafeSlow(0);
  private slabUsed = 0;
  /** Where the queued messages begin in the slab: they end at `slabUsed`. */
  private queuedFrom = 0;
  private queuedCount = 0;
  private queuedBytes = 0;
  /** Queued messages for `nc.publish`, when nats.js does not expose its queue. */
  private held: HeldMessage[] = [];

  constructor(nc: NatsConnection) {
    this.nc = nc;
    this.protocol = handlerOf(nc);
  }

  /** Whether messages are written to the outbound queue (else through `nc.publish`). */
  get direct(): boolean {
    return this.protocol !== undefined;
  }

  /** Whether messages wait for `flush`. */
  get queued(): boolean {
    return this.queuedCount > 0 || this.held.length > 0;
  }

  /**
   * Throws where `nc.publish` would refuse the message: a closed or draining connection, a bad
   * subject, too many bytes. `keep`: the subject is kept encoded for the next messages to it, and
   * its encoding returned; else (a subject met once: a unary request's reply) it is written as it
   * is. `size`: the message's bytes, header and body.
   */
  private check(subject: string, header: Uint8Array | undefined, size: number, keep: boolean): Uint8Array | undefined {
    this.usable();
    this.fits(header, size);
    if (!keep) {
      if (subject !== this.safeSubject) {
        refuseUnsafe(subject);
        this.safeSubject = subject;
      }
      return undefined;
    }
    let encoded = this.subjects.get(subject);
    if (encoded === undefined) {
      refuseUnsafe(subject);
      if (this.subjects.size >= SUBJECTS_KEPT) this.subjects.clear();
      encoded = Buffer.from(subject, 'utf8');
      this.subjects.set(subject, encoded);
    }
    return encoded;
  }

  /** Throws when nothing can be published: the connection is closed, or draining. */
  private usable(): void {
    if (this.nc.isClosed()) throw new Error('the NATS connection is closed');
    if (this.protocol?.noMorePublishing === true) throw new Error('the NATS connection is draining');
  }

  /** Throws when the server takes no such message: headers it does not accept, more than its `max_payload`. */
  private fits(header: Uint8Array | undefined, size: number): void {
    const info = this.nc.info;
    if (header !== undefined && info?.headers === false) throw new Error('the NATS server does not accept headers');
    if (info !== undefined && size > info.max_payload) throw new Error(`${size} bytes with headers are over the NATS server's max_payload of ${info.max_payload} bytes`);
  }

  /** Checks one message and publishes it at once — behind the queued ones, which go with it. */
  publish(subject: string, header: Uint8Array | undefined, body: WireBody): void {
    this.enqueue(subject, header, body, false);
    this.send();
  }

  /**
   * Checks one message and queues it, behind those queued, for `flush`: written into the batch
   * now, so a message that cannot go fails here, with its caller. A subject queued to is kept
   * encoded for the messages after.
   */
  queue(subject: string, header: Uint8Array | undefined, body: WireBody): void {
    this.enqueue(subject, header, body, true);
  }

  private enqueue(subject: string, header: Uint8Array | undefined, body: WireBody, keep: boolean): void {
    const size = wireSize(body) + (header?.length ?? 0);
    const subjectBytes = this.check(subject, header, size, keep);
    if (this.protocol === undefined) {
      this.held.push({ subject, header, body });
      return;
    }
    // A subject's UTF-8 takes at most three bytes per UTF-16 unit.
    const room = (subjectBytes?.length ?? 3 * subject.length) + LINE_OVERHEAD + size;
    if (room > SLAB_BYTES / 4) {
      // Its own buffer, behind what is queued: handed over at once, in order.
      this.handOver(this.protocol);
      const out = Buffer.allocUnsafeSlow(room);
      this.count(1, size);
      this.protocol.sendCommand(out.subarray(0, writeMessage(out, 0, subject, subjectBytes, header, body, size)));
      return;
    }
    if (this.slabUsed + room > this.slab.length) {
      this.handOver(this.protocol);
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.slabUsed = this.queuedFrom = 0;
    }
    this.slabUsed = writeMessage(this.slab, this.slabUsed, subject, subjectBytes, header, body, size);
    this.queuedCount++;
    this.queuedBytes += size;
  }

  /**
   * Hands the queued messages to nats.js, in order, as one buffer. The connection is checked
   * again: it may have closed or begun draining since they were queued; then they are dropped,
   * and this throws.
   */
  flush(): void {
    if (!this.queued) return;
    try {
      this.usable();
    } catch (err) {
      this.held = [];
      this.queuedFrom = this.slabUsed;
      this.queuedCount = this.queuedBytes = 0;
      throw err;
    }
    this.send();
  }

  /** Hands the queued messages over, checked as they are. */
  private send(): void {
    if (this.protocol !== undefined) return this.handOver(this.protocol);
    const held = this.held;
    this.held = [];
    for (const { subject, header, body } of held) this.nc.publish(subject, wireBytes(body), header === undefined ? undefined : { headers: new EncodedHeaders(header) });
  }

  private handOver(protocol: ProtocolHandler): void {
    if (this.queuedCount === 0) return;
    this.count(this.queuedCount, this.queuedBytes);
    protocol.sendCommand(this.slab.subarray(this.queuedFrom, this.slabUsed));
    this.queuedFrom = this.slabUsed;
    this.queuedCount = this.queuedBytes = 0;
  }

  /** nats.js's counters, kept as its publish keeps them (`nc.stats()`). */
  private count(messages: number, bytes: number): void {
    this.protocol!.outMsgs += messages;
    this.protocol!.outBytes += bytes;
  }
}
