/**
 * A NATS header block, read in one pass. Every message the request plane takes has one, and
 * nats.js's own reading (`msg.headers`, `MsgHdrsImpl.decode`) was the largest single cost of
 * serving a request, because each `append` validates the name and searches every name seen so far
 * (docs/benchmarks.md, "The request plane's cost"). This reads the same bytes into the same names
 * and values, in the same order, refusing what nats.js refuses, in well under half the time
 * (test/transport/header-block.test.ts holds it to nats.js's reading); nothing else of nats.js's
 * header API is needed.
 *
 * The reading, as nats.js's:
 * - the first line is `NATS/1.0`, optionally followed by a status code and description;
 * - every other line that has a colon is `name: value`; the value is trimmed; lines without a
 *   colon are skipped;
 * - a name with a character outside printable ASCII (33–126) is malformed, and so is a value that
 *   still holds a CR or LF after trimming (the block is split on CRLF only).
 */

/** A header block nats.js would refuse to decode. */
export class MalformedHeaders extends Error {}

const HEADER = 'NATS/1.0';

export class HeaderBlock {
  /** The status code of the block's first line (`NATS/1.0 503` → 503), 0 when it has none. */
  readonly code: number;
  /** The status line's description, '' when it has none. */
  readonly description: string;
  /** The line feeds in the block (CRLF line ends and stray LFs alike): what the entry limit counts. */
  readonly lineFeeds: number;
  /** Why nats.js would refuse the block, or undefined when it reads it. */
  readonly malformed: string | undefined;
  /** Entry names and values, in the order they came. */
  private readonly names: readonly string[];
  private readonly entries: readonly string[];

  private constructor(code: number, description: string, names: readonly string[], entries: readonly string[], lineFeeds: number, malformed: string | undefined) {
    this.code = code;
    this.description = description;
    this.names = names;
    this.entries = entries;
    this.lineFeeds = lineFeeds;
    this.malformed = malformed;
  }

  /** @internal From the status line and the entries `read` found. */
  static of(status: string, names: readonly string[], entries: readonly string[], lineFeeds: number, malformed: string | undefined): HeaderBlock {
    let code = 0;
    let description = '';
    if (status !== HEADER) {
      let rest = status.replace(HEADER, '').trim();
      if (rest.length > 0) {
        code = parseInt(rest, 10);
        if (Number.isNaN(code)) code = 0;
        rest = rest.replace(String(code), '');
        description = rest.trim();
      }
    }
    return new HeaderBlock(code, description, names, entries, lineFeeds, malformed);
  }

  /**
   * Reads a raw block (status line to the blank line), all of it: when nats.js would refuse it,
   * `malformed` says why. The caller checks `lineFeeds` and `malformed` before using it. `length`:
   * the block is the first `length` bytes of `block` (a message's data, headers first).
   * `expected`: the layout most blocks read here have (`headerLayout`).
   */
  static scan(block: Uint8Array, length = block.length, expected?: HeaderLayout): HeaderBlock {
    const whole = block instanceof Buffer ? block : Buffer.from(block.buffer, block.byteOffset, block.length);
    // Nearly always ASCII: the Latin-1 text (a straight copy, one character per byte) gives the
    // names and values. A block laid out as `expected` is read by one match; most others are in
    // the simple form, read from the text alone; the rest have their bytes scanned as they are.
    // Only when a byte above 0x7f shows up is the block read again as UTF-8 with replacement
    // characters, as nats.js's `TextDecoder` does, from the decoded text's character codes.
    const latin1 = whole.toString('latin1', 0, length);
    const laid = expected?.pattern.exec(latin1);
    if (laid != null) return HeaderBlock.of(HEADER, expected!.names, laid.slice(1), expected!.names.length + 2, undefined);
    if (SIMPLE.test(latin1)) return readSimple(latin1);
    const bytes = length === whole.length ? whole : whole.subarray(0, length);
    const ascii = read(bytes, latin1);
    if (ascii !== undefined) return ascii;
    const text = bytes.toString('utf8');
    const codes = new Uint16Array(text.length);
    for (let i = 0; i < text.length; i++) codes[i] = text.charCodeAt(i);
    return read(codes, text) as HeaderBlock;
  }

  /** Reads a raw block. Throws `MalformedHeaders` where nats.js's decode throws. */
  static parse(block: Uint8Array): HeaderBlock {
    const read = HeaderBlock.scan(block);
    if (read.malformed !== undefined) throw new MalformedHeaders(read.malformed);
    return read;
  }

  /** The only value of `name` (exact name): '' when absent, null when repeated. */
  single(name: string): string | null {
    let found: string | undefined;
    for (let i = 0; i < this.names.length; i++) {
      if (this.names[i] !== name) continue;
      if (found !== undefined) return null;
      found = this.entries[i]!;
    }
    return found ?? '';
  }

  /**
   * Every value of `name`, grouped by the names as they were written in the order each first
   * appeared (as nats.js returns them); `ignoreCase` matches names case-insensitively.
   */
  values(name: string, ignoreCase = false): string[] {
    const out: string[] = [];
    const wanted = ignoreCase ? name.toLowerCase() : name;
    for (const key of this.keys()) {
      if ((ignoreCase ? key.toLowerCase() : key) !== wanted) continue;
      for (let i = 0; i < this.names.length; i++) if (this.names[i] === key) out.push(this.entries[i]!);
    }
    return out;
  }

  /** The first value of `name` (exact name), undefined when absent. */
  get(name: string): string | undefined {
    const i = this.names.indexOf(name);
    return i < 0 ? undefined : this.entries[i];
  }

  /** Whether `name` is present. */
  has(name: string, ignoreCase = false): boolean {
    const wanted = ignoreCase ? name.toLowerCase() : name;
    return this.names.some((key) => (ignoreCase ? key.toLowerCase() : key) === wanted);
  }

  /** The distinct names, as written, in the order each first appeared. */
  keys(): string[] {
    return [...new Set(this.names)];
  }
}

const CR = 13;
const LF = 10;
const COLON = 58;

/**
 * A block with exactly these names, in this order, each once, every value printable ASCII without
 * spaces — in the simple form, so read as it would be, but by one match with the values captured,
 * and the names shared: looking one up compares the same strings.
 */
export interface HeaderLayout {
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

/** The layout of blocks with these names (letters, digits and `-`), in this order. */
export function headerLayout(names: readonly string[]): HeaderLayout {
  for (const name of names) if (!/^[A-Za-z0-9-]+$/.test(name)) throw new Error(`a layout's names are letters, digits and '-': ${name}`);
  const lines = names.map((name) => `${name}: ([\\x21-\\x7e]+)\\r\\n`).join('');
  return { pattern: new RegExp(`^NATS/1\\.0\\r\\n${lines}\\r\\n$`), names: [...names] };
}

/**
 * The simple form: the bare status line, then entries `Name: value` of printable ASCII, the name
 * without a colon, the value without spaces — what nats.js's `MsgHdrs` writes for such names and
 * values, and every block of the protocol's own headers. Nothing in it is malformed, there is
 * nothing to trim, each line has one colon that ends the name: the text says all, and native
 * string searches read it faster than a scan of the bytes. The form is unambiguous line by line,
 * so matching it is linear in the block.
 */
const SIMPLE = /^NATS\/1\.0\r\n(?:[\x21-\x39\x3b-\x7e]+: [\x21-\x7e]+\r\n)*\r\n$/;
const SIMPLE_STATUS = 'NATS/1.0\r\n'.length;

/** Reads a block in the simple form (`SIMPLE`): what `read` reads from its bytes. */
function readSimple(text: string): HeaderBlock {
  const names: string[] = [];
  const entries: string[] = [];
  for (let at = SIMPLE_STATUS; at < text.length - 2; ) {
    const colon = text.indexOf(':', at);
    const end = text.indexOf('\r', colon);
    names.push(text.slice(at, colon));
    entries.push(text.slice(colon + 2, end));
    at = end + 2;
  }
  // a line feed ends the status line, each entry and the blank line
  return HeaderBlock.of(HEADER, names, entries, names.length + 2, undefined);
}

/**
 * One pass over `codes`, the character codes of `text` (index for index). For raw bytes
 * (`Uint8Array`), returns undefined at the first byte above 0x7f: the caller reads the block
 * again as UTF-8.
 */
function read(codes: Uint8Array | Uint16Array, text: string): HeaderBlock | undefined {
  const n = codes.length;
  const decoded = !(codes instanceof Uint8Array);
  let high = 0;
  let lineFeeds = 0;
  let i = 0;
  for (; i < n; i++) {
    const c = codes[i]!;
    high |= c;
    if (c === CR && codes[i + 1] === LF) break;
    if (c === LF) lineFeeds++;
  }
  if (i < n) lineFeeds++;
  const status = text.slice(0, i);
  let malformed: string | undefined;
  const names: string[] = [];
  const entries: string[] = [];
  for (i += 2; i < n; i += 2) {
    const start = i;
    let colon = -1;
    let badName = -1;
    let loneBreak = false;
    for (; i < n; i++) {
      const c = codes[i]!;
      high |= c;
      if (c === CR && codes[i + 1] === LF) {
        lineFeeds++;
        break;
      }
      if (c === LF) lineFeeds++;
      if (colon < 0) {
        if (c === COLON) colon = i;
        else if ((c < 33 || c > 126) && badName < 0) badName = i;
      } else if (c === CR || c === LF) {
        loneBreak = true;
      }
    }
    // nats.js splits on CRLF only, skips empty lines and lines without a colon
    if (i === start || colon < 0) continue;
    if (high > 0x7f && !decoded) return undefined;
    // Read on to the end even so: the caller's entry limit counts every line feed.
    if (badName >= 0) {
      malformed ??= `'${text[badName]!}' is not a valid character in a header name`;
      continue;
    }
    const value = text.slice(colon + 1, i).trim();
    if (loneBreak && (value.includes('\r') || value.includes('\n'))) {
      malformed ??= 'header values cannot contain \\r or \\n';
      continue;
    }
    names.push(text.slice(start, colon));
    entries.push(value);
  }
  if (high > 0x7f && !decoded) return undefined;
  return HeaderBlock.of(status, names, entries, lineFeeds, malformed);
}
