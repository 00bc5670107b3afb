import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MsgHdrs } from '@nats-io/transport-node';
import { HeaderBlock } from '../../src/transport/header-block.ts';
import { Answer, parseRequest } from '../../src/transport/request-parser.ts';
import { endsWithTag, MAX_HEADER_BYTES, parseAck, replySubjectRefusal } from '../../src/transport/protocol.ts';
import { keyOf, newRequestSecret, tagOf } from '../../src/transport/request-secret.ts';
import { rawRequest, tagFor } from '../helpers/raw-request.ts';
import { rng } from '../helpers/rng.ts';

const SUBJECT = 'dynamo.ns.comp.ep';
const enc = new TextEncoder();
const ok = (h: MsgHdrs | undefined) => ({ ok: true as const, headers: h === undefined ? undefined : HeaderBlock.parse((h as unknown as { encode(): Uint8Array }).encode()) });

describe('parseRequest (pure: no NATS)', () => {
  it('accepts a request whose key proves its reply subject', () => {
    const r = rawRequest(SUBJECT, '{"a":1}', { window: 16, requestId: 'req-1' });
    assert.deepEqual(parseRequest(r.data, r.reply, ok(r.headers), SUBJECT), { ok: true, value: { a: 1 }, requestId: 'req-1', key: r.key, window: 16, headers: ok(r.headers).headers });
  });

  it('caps the window and defaults it', () => {
    const big = rawRequest(SUBJECT, '1', { window: 1_000_000 });
    const parsed = parseRequest(big.data, big.reply, ok(big.headers), SUBJECT);
    assert.equal(parsed.ok && parsed.window, 4096);
    const none = rawRequest(SUBJECT, '1');
    const p2 = parseRequest(none.data, none.reply, ok(none.headers), SUBJECT);
    assert.equal(p2.ok && p2.window, 128);
  });

  it('refuses, each under one error_type, and says how to answer', () => {
    const r = rawRequest(SUBJECT, '{"a":1}');
    const edit = (f: (h: MsgHdrs) => void): MsgHdrs => {
      const h = rawRequest(SUBJECT, '{"a":1}').headers;
      f(h);
      return h;
    };
    const cases: Array<[string, ReturnType<typeof parseRequest>, string, Answer]> = [
      ['headers over the limit', parseRequest(r.data, r.reply, { ok: false, reason: 'header block of 99999 bytes is over the 16384-byte limit' }, SUBJECT), 'invalid_message', Answer.Unproven],
      ['malformed headers', parseRequest(r.data, r.reply, { ok: false, reason: 'malformed header block: x' }, SUBJECT), 'deserialization', Answer.Unproven],
      ['not JSON', parseRequest(enc.encode('{'), r.reply, ok(r.headers), SUBJECT), 'deserialization', Answer.Unproven],
      ['no headers', parseRequest(r.data, r.reply, ok(undefined), SUBJECT), 'invalid_message', Answer.Unproven],
      ['protocol 1', parseRequest(r.data, r.reply, ok(edit((h) => h.set('Dynamo-Protocol', '1'))), SUBJECT), 'invalid_message', Answer.Unproven],
      ['two protocols', parseRequest(r.data, r.reply, ok(edit((h) => h.append('Dynamo-Protocol', '2'))), SUBJECT), 'invalid_message', Answer.Unproven],
      ['bad content type', parseRequest(r.data, r.reply, ok(edit((h) => h.set('Dynamo-Content-Type', 'text/plain'))), SUBJECT), 'invalid_message', Answer.Unproven],
      ['bad request id', parseRequest(r.data, r.reply, ok(edit((h) => h.set('Dynamo-Request-Id', 'a b'))), SUBJECT), 'invalid_message', Answer.Unproven],
      ['short key', parseRequest(r.data, r.reply, ok(edit((h) => h.set('Dynamo-Key', 'abc'))), SUBJECT), 'invalid_message', Answer.Unproven],
      ['bad window', parseRequest(r.data, r.reply, ok(edit((h) => h.set('Dynamo-Window', '0'))), SUBJECT), 'invalid_message', Answer.Unproven],
      ['no reply subject', parseRequest(r.data, '', ok(r.headers), SUBJECT), 'response_stream', Answer.None],
      ['reply on the request plane', parseRequest(r.data, `${SUBJECT}.${r.tag}`, ok(r.headers), SUBJECT), 'response_stream', Answer.None],
      ['reply on a system subject', parseRequest(r.data, `$SRV.PING.${r.tag}`, ok(r.headers), SUBJECT), 'response_stream', Answer.None],
      ['garbage with a forbidden reply', parseRequest(enc.encode('{'), '_DYN.CANCEL.x', ok(undefined), SUBJECT), 'deserialization', Answer.None],
      ['reply subject of another request', parseRequest(r.data, '_INBOX.raw.AAAAAAAAAAAAAAAAAAAAAA', ok(r.headers), SUBJECT), 'invalid_message', Answer.Unproven],
      ['another endpoint', parseRequest(r.data, r.reply, ok(r.headers), 'dynamo.ns.comp.other'), 'invalid_message', Answer.Unproven],
      ['an edited body', parseRequest(enc.encode('{"a":2}'), r.reply, ok(r.headers), SUBJECT), 'invalid_message', Answer.Unproven],
    ];
    for (const [what, parsed, type, answer] of cases) {
      assert.equal(parsed.ok, false, what);
      if (!parsed.ok) assert.deepEqual([parsed.errorType, parsed.answer], [type, answer], what);
    }
  });
});

describe('request secrets', () => {
  it('derive key and tag one way, as docs/protocol.md states (checked against an independent implementation)', () => {
    const { secret, key } = newRequestSecret();
    assert.match(secret, /^[0-9a-f-]{36}$/);
    assert.equal(key, keyOf(secret));
    assert.match(key, /^[A-Za-z0-9_-]{22}$/);
    const body = enc.encode('"x"');
    assert.equal(tagOf(key, SUBJECT, 'application/json', body), tagFor(key, SUBJECT, 'application/json', body));
    assert.notEqual(tagOf(key, SUBJECT, 'application/json', body), tagOf(key, SUBJECT, 'application/octet-stream', body));
    assert.notEqual(newRequestSecret().secret, secret);
    // bodies of every size, around the buffer tags are assembled in (64 KiB), and one after another
    for (const size of [0, 1, 65_536 - 100, 65_536, 200_000, 5]) {
      const big = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
      assert.equal(tagOf(key, SUBJECT, 'application/octet-stream', big), tagFor(key, SUBJECT, 'application/octet-stream', big), `a body of ${size} bytes`);
    }
  });
});

describe('protocol helpers', () => {
  it('refuses reply subjects the server must never publish to', () => {
    for (const bad of ['', 'dynamo.a.b.c', '_DYN.CTL.x', '$SRV.INFO', '$SYS.x', 'a.*', 'a.>', 'a b', 'a..b', '.a', 'a.', 'x'.repeat(257)]) {
      assert.notEqual(replySubjectRefusal(bad), undefined, JSON.stringify(bad));
    }
    for (const good of ['_INBOX.abc.def', '_INBOX_caller.x.y', 'reply']) assert.equal(replySubjectRefusal(good), undefined, good);
    // The tag is the reply subject's last `.`-separated token, whole.
    for (const [reply, tag, ends] of [
      ['_INBOX.a.b.TAG', 'TAG', true],
      ['_INBOX.a.bTAG', 'TAG', false],
      ['TAG', 'TAG', true],
      ['.TAG', 'TAG', true],
      ['TAG.', 'TAG', false],
      ['AG', 'TAG', false],
      ['x.TAGX', 'TAG', false],
      ['x.XTAG', 'TAG', false],
      ['', 'TAG', false],
      ['_INBOX.a.', '', true],
    ] as const) {
      assert.equal(endsWithTag(reply, tag), ends, `${reply} / ${tag}`);
    }
  });

  it('takes exactly the reply subjects of non-empty tokens without wildcards, spaces or control characters (seeded)', () => {
    // The rule, character by character: what the refusal's fast match must agree with.
    const refused = (reply: string): boolean => {
      for (let i = 0; i < reply.length; i++) {
        const c = reply.charCodeAt(i);
        if (c === 0x2a || c === 0x3e || c <= 0x20 || c === 0x7f) return true;
        if (c === 0x2e && (i === 0 || i === reply.length - 1 || reply.charCodeAt(i - 1) === 0x2e)) return true;
      }
      return false;
    };
    const random = rng(3131);
    const alphabet = ['a', 'Z', '_', '-', '.', '..', '*', '>', ' ', '\t', '\u0000', '\u001f', '\u007f', 'é', '😀', '\ud800', 'INBOX'];
    for (let n = 0; n < 20_000; n++) {
      const reply = `_I${Array.from({ length: 1 + Math.floor(random() * 12) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('')}`;
      assert.equal(replySubjectRefusal(reply) !== undefined, refused(reply), `case ${n}: ${JSON.stringify(reply)}`);
    }
  });

  it('parses acknowledgements strictly', () => {
    const key = 'k'.repeat(22);
    assert.deepEqual(parseAck(`${key} 12`), { key, consumed: 12 });
    for (const bad of [`${key} 1e18`, `${key} -1`, `${key}  1`, `${key} 1 `, `${key}`, 'short 1', `${key} ${'9'.repeat(16)}`, `${key} 0x10`]) {
      assert.equal(parseAck(bad), undefined, bad);
    }
  });

  it('keeps header room for W3C trace context', () => {
    // the largest W3C baggage (8192 bytes), a tracestate of 32 members and a traceparent, with our own headers
    const h = rawRequest(SUBJECT, '1').headers;
    h.set('traceparent', `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`);
    h.set('tracestate', Array.from({ length: 32 }, (_, i) => `vendor${i}=${'v'.repeat(16)}`).join(','));
    h.set('baggage', 'b'.repeat(8192));
    assert.ok((h as unknown as { encode(): Uint8Array }).encode().length < MAX_HEADER_BYTES);
  });
});
