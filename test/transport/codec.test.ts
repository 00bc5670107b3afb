import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBody, encodeBody, encodePayload, wireSize } from '../../src/transport/codec.ts';
import { cancelSubject, ContentType, endpointSubject, instanceSubject, REQUEST_ID_RE } from '../../src/transport/protocol.ts';
import { rng } from '../helpers/rng.ts';

describe('codec', () => {
  it('encodes JSON values and passes bytes through untouched', () => {
    const json = encodeBody({ a: 'é' });
    assert.deepEqual([...json.data], [...new TextEncoder().encode('{"a":"é"}')]);
    assert.equal(json.contentType, ContentType.Json);
    const raw = new Uint8Array([0, 1, 255]);
    const enc = encodeBody(raw);
    assert.equal(enc.data, raw);
    assert.equal(enc.contentType, ContentType.Bytes);
    assert.deepEqual(encodePayload(raw), { data: raw, contentType: ContentType.Bytes });
    assert.deepEqual([...(encodePayload({ a: 'é' }).data as Uint8Array)], [...json.data]);
    assert.equal(encodeBody(null).data.length, 4);
  });

  it('refuses what JSON cannot carry', () => {
    assert.throws(() => encodeBody(undefined), /cannot encode undefined/);
    assert.throws(() => encodeBody(1n), TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    assert.throws(() => encodeBody(cyclic), TypeError);
  });

  it('reports undecodable bodies as values, never throws', () => {
    assert.deepEqual(decodeBody(new TextEncoder().encode('[1,2]')), { ok: true, value: [1, 2] });
    assert.deepEqual(decodeBody(new Uint8Array()), { ok: false, reason: 'empty body is not JSON' });
    assert.deepEqual(decodeBody(new Uint8Array([0xc3, 0x28])), { ok: false, reason: 'body is not valid UTF-8' });
    const bad = decodeBody(new TextEncoder().encode('{"a":'));
    assert.equal(bad.ok, false);
    const bytes = new Uint8Array([0xff]);
    assert.deepEqual(decodeBody(bytes, ContentType.Bytes), { ok: true, value: bytes });
  });

  it('names subjects from the hierarchy', () => {
    const base = endpointSubject('ns', 'comp', 'ep');
    assert.equal(base, 'dynamo.ns.comp.ep');
    assert.equal(instanceSubject(base, 'abc'), 'dynamo.ns.comp.ep.abc');
    assert.equal(cancelSubject(base), '_DYN.CANCEL.ns.comp.ep');
    assert.ok(REQUEST_ID_RE.test('AbC_12-x'));
    assert.ok(!REQUEST_ID_RE.test('a b'));
    assert.ok(!REQUEST_ID_RE.test('x'.repeat(65)));
  });
});

describe('codec: strings written straight into bytes', () => {
  it('are exactly JSON.stringify’s bytes, for every kind of character (seeded)', () => {
    const random = rng(16);
    const pieces = ['a', 'Z', ' ', '"', '\\', '\n', '\t', '\u0000', '\u001f', '\u007f', 'é', '€', '中', '\uff01', '\ufffd', '😀', '\ud800', '\udfff', '\ud83d', '/', '<', '\u2028'];
    const cases = ['', 'hello world', 'x'.repeat(1024), 'x'.repeat(1025), 'é'.repeat(1024), '😀'.repeat(512), `${'"'.repeat(3)}`];
    for (let n = 0; n < 3000; n++) cases.push(Array.from({ length: Math.floor(random() * 40) }, () => pieces[Math.floor(random() * pieces.length)]).join(''));
    for (const s of cases) {
      const encoded = encodeBody(s);
      assert.equal(encoded.contentType, ContentType.Json);
      assert.deepEqual([...encoded.data], [...new TextEncoder().encode(JSON.stringify(s))], JSON.stringify(s));
      const back = decodeBody(encoded.data);
      assert.deepEqual(back, { ok: true, value: JSON.parse(JSON.stringify(s)) });
      // As the wire writer takes it: the same bytes; text only when every character is one byte of ASCII.
      const payload = encodePayload(s);
      assert.equal(payload.contentType, ContentType.Json);
      if (typeof payload.data === 'string') {
        // The string itself, which the writer puts between quotes.
        assert.equal(payload.data, s);
        assert.match(payload.data, /^[\x20-\x7f]*$/, JSON.stringify(s));
        assert.deepEqual([...Buffer.from(`"${payload.data}"`, 'latin1')], [...encoded.data], JSON.stringify(s));
        assert.equal(wireSize(payload.data), encoded.data.length);
      } else {
        assert.deepEqual([...payload.data], [...encoded.data], JSON.stringify(s));
      }
    }
    assert.equal(typeof encodePayload('hello world').data, 'string');
    assert.equal(typeof encodePayload('é').data, 'object');
    assert.equal(typeof encodePayload('say "hi"').data, 'object');
  });
});
