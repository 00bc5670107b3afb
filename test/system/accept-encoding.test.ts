import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptsGzip } from '../../src/system/status-server.ts';

describe('Accept-Encoding', () => {
  it('gzips only when gzip (or *) is accepted with a non-zero q', () => {
    const cases: Array<[string | undefined, boolean]> = [
      [undefined, false],
      ['', false],
      ['gzip', true],
      ['GZIP', true],
      ['deflate, gzip;q=0.5', true],
      ['gzip;q=0', false],
      ['gzip; q=0.0, identity', false],
      ['*', true],
      ['*;q=0', false],
      ['br, deflate', false],
      ['x-gzip-ish', false],
    ];
    for (const [header, expected] of cases) assert.equal(acceptsGzip(header), expected, String(header));
  });
});
