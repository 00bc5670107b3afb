import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match, MsgHdrsImpl } from '@nats-io/transport-node';
import { HeaderBlock, headerLayout, MalformedHeaders } from '../../src/transport/header-block.ts';
import { rng } from '../helpers/rng.ts';

const enc = new TextEncoder();

interface Reading {
  code: number;
  description: string;
  keys: string[];
  values: Map<string, string[]>;
  folded: Map<string, string[]>;
}

/** Everything a reader of headers answers: status, names in order, values exact and case-insensitive. */
function reading(h: { code: number; description: string; keys(): string[] }, values: (name: string, ignoreCase: boolean) => string[]): Reading {
  const keys = h.keys();
  return {
    code: h.code,
    description: h.description,
    keys,
    values: new Map(keys.map((k) => [k, values(k, false)])),
    folded: new Map(keys.map((k) => [k, values(k.toLowerCase(), true)])),
  };
}

/** What nats.js reads from `bytes` — the reference `HeaderBlock` must agree with — or that it throws. */
function natsRead(bytes: Uint8Array): Reading | 'throws' {
  try {
    const h = MsgHdrsImpl.decode(bytes);
    return reading(h, (k, ignoreCase) => h.values(k, ignoreCase ? Match.IgnoreCase : Match.Exact));
  } catch {
    return 'throws';
  }
}

function ourRead(bytes: Uint8Array): Reading | 'throws' {
  let h: HeaderBlock;
  try {
    h = HeaderBlock.parse(bytes);
  } catch (error) {
    assert.ok(error instanceof MalformedHeaders);
    return 'throws';
  }
  return reading(h, (k, ignoreCase) => h.values(k, ignoreCase));
}

describe('HeaderBlock reads what nats.js reads', () => {
  it('the request plane’s own blocks, statuses and edge cases: same names, values, order, status, refusals', () => {
    const cases = [
      'NATS/1.0\r\nDynamo-Protocol: 2\r\nDynamo-Request-Id: abc-1\r\nDynamo-Key: k\r\n\r\n',
      'NATS/1.0 503\r\n\r\n',
      'NATS/1.0 503 No Responders\r\n\r\n',
      'NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\n\r\n',
      'NATS/1.0  abc \r\n\r\n',
      'NATS/1.0\r\nA: 1\r\na: 2\r\nA: 3\r\n\r\n',
      'NATS/1.0\r\nA:    spaced   \r\nB:\r\nC: x:y:z\r\n\r\n',
      'NATS/1.0\r\nno colon here\r\nD: 4\r\n\r\n',
      'NATS/1.0\r\nBad Key: x\r\n\r\n',
      'NATS/1.0\r\nK: a\nb\r\n\r\n',
      'NATS/1.0\r\nK: a\rb\r\n\r\n',
      'NATS/1.0\r\nK: trailing\r\r\n\r\n',
      'NATS/1.0\r\n: empty name\r\n\r\n',
      'NATS/1.0\r\nÜ: x\r\n\r\n',
      'NATS/1.0\r\nK: välue ✓\r\n\r\n',
      'NATS/1.0',
      '',
      'garbage',
      '\uFEFFNATS/1.0\r\nA: b\r\n\r\n',
    ];
    for (const text of cases) {
      const bytes = enc.encode(text);
      assert.deepEqual(ourRead(bytes), natsRead(bytes), JSON.stringify(text));
    }
    const block = HeaderBlock.parse(enc.encode('NATS/1.0\r\nA: 1\r\nB: 2\r\nA: 3\r\n\r\n'));
    assert.equal(block.single('A'), null);
    assert.equal(block.single('B'), '2');
    assert.equal(block.single('b'), '');
    assert.equal(block.get('A'), '1');
    assert.equal(block.get('C'), undefined);
    assert.equal(block.has('b'), false);
    assert.equal(block.has('b', true), true);
  });

  it('random blocks (seeded): the same reading or the same refusal as nats.js, every time', () => {
    const random = rng(20261122);
    const alphabet = ['A', 'b', '-', ':', ' ', '\t', '\r', '\n', '\r\n', 'é', '\u0000', '\u007f', 'x', '1', 'NATS/1.0', ' 503 ', 'Dynamo-Key'];
    for (let n = 0; n < 5000; n++) {
      let text = random() < 0.8 ? 'NATS/1.0' : '';
      const parts = Math.floor(random() * 24);
      for (let i = 0; i < parts; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      text += random() < 0.7 ? '\r\n\r\n' : '';
      const bytes = enc.encode(text);
      assert.deepEqual(ourRead(bytes), natsRead(bytes), `seed 20261122, case ${n}: ${JSON.stringify(text)}`);
      // the entry limit counts every line feed of the raw bytes, read or not
      assert.equal(HeaderBlock.scan(bytes).lineFeeds, bytes.filter((b) => b === 0x0a).length, `line feeds, case ${n}`);
    }
  });

  it('blocks in the simple form, and near it (seeded): the same reading as nats.js', () => {
    // The simple form (printable ASCII, `Name: value`, values without spaces) is read from its text
    // alone; one character off it, the bytes are scanned. Both must read what nats.js reads.
    const random = rng(16016);
    const pick = (from: string, length: number): string => Array.from({ length }, () => from[Math.floor(random() * from.length)]!).join('');
    const printable = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join('');
    const nameChars = printable.replace(':', '');
    const defects = [' ', '\t', ':', '\r', '\n', 'é', '\u0000', '\u007f', '  '];
    for (let n = 0; n < 5000; n++) {
      const lines = Array.from({ length: Math.floor(random() * 8) }, () => `${pick(nameChars, 1 + Math.floor(random() * 12))}: ${pick(printable, 1 + Math.floor(random() * 24))}`);
      let text = `NATS/1.0\r\n${lines.map((line) => `${line}\r\n`).join('')}\r\n`;
      if (random() < 0.5) {
        const at = Math.floor(random() * text.length);
        text = text.slice(0, at) + defects[Math.floor(random() * defects.length)]! + text.slice(at);
      }
      const bytes = enc.encode(text);
      assert.deepEqual(ourRead(bytes), natsRead(bytes), `seed 16016, case ${n}: ${JSON.stringify(text)}`);
      assert.equal(HeaderBlock.scan(bytes).lineFeeds, bytes.filter((b) => b === 0x0a).length, `line feeds, case ${n}`);
    }
    // what the request plane sends, by the simple form's reading
    const request = HeaderBlock.scan(enc.encode('NATS/1.0\r\nDynamo-Protocol: 2\r\nDynamo-Request-Id: a-1\r\nDynamo-Key: Kq9dZr3vTx1bNw0aHe5u12\r\nDynamo-Window: 128\r\n\r\n'));
    assert.deepEqual([request.single('Dynamo-Protocol'), request.single('Dynamo-Request-Id'), request.single('Dynamo-Key'), request.single('Dynamo-Window')], ['2', 'a-1', 'Kq9dZr3vTx1bNw0aHe5u12', '128']);
    assert.deepEqual([request.keys().length, request.lineFeeds, request.malformed, request.code, request.description], [4, 6, undefined, 0, '']);
  });

  it('a block of the expected layout, or one character off it (seeded): the same reading as without the layout, and as nats.js', () => {
    const layout = headerLayout(['Dynamo-Protocol', 'Dynamo-Request-Id', 'Dynamo-Key', 'Dynamo-Content-Type', 'Dynamo-Window']);
    const random = rng(4242);
    const printable = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join('');
    const pick = (length: number): string => Array.from({ length }, () => printable[Math.floor(random() * printable.length)]!).join('');
    const defects = [' ', '\t', '', '\r\n', 'é', '\u0000', 'x: y\r\n'];
    const full = (h: HeaderBlock): Reading & { lineFeeds: number; malformed: string | undefined } => ({ ...reading(h, (k, ignoreCase) => h.values(k, ignoreCase)), lineFeeds: h.lineFeeds, malformed: h.malformed });
    for (let n = 0; n < 5000; n++) {
      let text = `NATS/1.0\r\n${layout.names.map((name) => `${name}: ${pick(1 + Math.floor(random() * 70))}\r\n`).join('')}\r\n`;
      if (random() < 0.5) {
        const at = Math.floor(random() * text.length);
        text = text.slice(0, at) + defects[Math.floor(random() * defects.length)]! + text.slice(at + (random() < 0.5 ? 1 : 0));
      }
      const bytes = enc.encode(text);
      const laid = HeaderBlock.scan(bytes, bytes.length, layout);
      assert.deepEqual(full(laid), full(HeaderBlock.scan(bytes)), `seed 4242, case ${n}: ${JSON.stringify(text)}`);
      assert.deepEqual(laid.malformed === undefined ? reading(laid, (k, ignoreCase) => laid.values(k, ignoreCase)) : 'throws', natsRead(bytes), `nats.js, case ${n}`);
    }
    // the length given: the block is the start of a message's data, the payload after it
    const block = enc.encode('NATS/1.0\r\nDynamo-Protocol: 2\r\nDynamo-Request-Id: r-1\r\nDynamo-Key: k\r\nDynamo-Content-Type: application/json\r\nDynamo-Window: 8\r\n\r\n');
    const message = new Uint8Array([...block, ...enc.encode('"payload"')]);
    assert.deepEqual(full(HeaderBlock.scan(message, block.length, layout)), full(HeaderBlock.scan(block)));
    assert.equal(HeaderBlock.scan(message, block.length, layout).single('Dynamo-Window'), '8');
    assert.throws(() => headerLayout(['Bad Name']), /letters, digits and '-'/);
  });

  it('invalid UTF-8 reads as replacement characters, as nats.js’s decoder does', () => {
    const bytes = new Uint8Array([...enc.encode('NATS/1.0\r\nK: a'), 0xff, 0xfe, ...enc.encode('b\r\n\r\n')]);
    assert.deepEqual(ourRead(bytes), natsRead(bytes));
    assert.equal(HeaderBlock.parse(bytes).get('K'), 'a\uFFFD\uFFFDb');
  });
});
