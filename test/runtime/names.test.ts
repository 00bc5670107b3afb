import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DynamoError, ErrorCode } from '../../src/index.ts';
import { testRuntime } from '../helpers/runtime.ts';

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof DynamoError && err.code === ErrorCode.InvalidName && pattern.test(err.message));
}

describe('hierarchy names', () => {
  const rt = testRuntime();

  it('accepts letters, digits, _ and - up to 64 characters', () => {
    const ep = rt.namespace('ns-1').component('Comp_2').endpoint('x'.repeat(64));
    assert.equal(ep.path, `ns-1/Comp_2/${'x'.repeat(64)}`);
    assert.equal(ep.scopeName, `dynamo/ns-1/Comp_2/${'x'.repeat(64)}`);
  });

  it('refuses a bad character and names it', () => {
    rejects(() => rt.namespace('a.b'), /namespace name "a\.b" has the character "\." \(U\+002E\) at position 1/);
    rejects(() => rt.namespace('ok').component('with space'), /component name .* character " "/);
    rejects(() => rt.namespace('ok').component('c').endpoint('ünï'), /endpoint name .* character "ü" \(U\+00FC\)/);
    rejects(() => rt.namespace('ok').component('c').endpoint('a*'), /character "\*"/);
    rejects(() => rt.namespace('ok').component('c').endpoint('a>'), /character ">"/);
  });

  it('refuses empty, too long and non-string names', () => {
    rejects(() => rt.namespace(''), /must not be empty/);
    rejects(() => rt.namespace('x'.repeat(65)), /65 characters; at most 64/);
    rejects(() => rt.namespace(42 as unknown as string), /must be a string/);
  });

  it('returns the same node for the same name', () => {
    const a = rt.namespace('same').component('c').endpoint('e');
    assert.equal(rt.namespace('same').component('c').endpoint('e'), a);
  });
});
