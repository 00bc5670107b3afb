import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ErrorCode, VERSION } from '../../src/index.ts';

describe('docs and metadata', () => {
  it('lists every error code in docs/errors.md, and no code that does not exist', () => {
    const page = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const documented = new Set([...page.matchAll(/`(DYN_ERR_[A-Z_]+)`/g)].map((m) => m[1]));
    assert.deepEqual([...documented].sort(), Object.values(ErrorCode).sort());
  });

  it('stamps scopes with the package.json version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(VERSION, pkg.version);
  });

  it('keeps a changelog: an Unreleased section, then one per version, the package.json version among them', () => {
    const changelog = readFileSync(new URL('../../CHANGELOG.md', import.meta.url), 'utf8');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const sections = [...changelog.matchAll(/^## \[([^\]]+)\]/gm)].map((m) => m[1]);
    assert.equal(sections[0], 'Unreleased');
    assert.ok(sections.includes(pkg.version), `no "## [${pkg.version}]" section in CHANGELOG.md`);
    for (const version of sections.slice(1)) assert.match(changelog, new RegExp(`^## \\[${version?.replace(/\./g, '\\.')}\\] - \\d{4}-\\d{2}-\\d{2}$`, 'm'));
  });

  it('exports names only: no export * and no default export in src/index.ts', () => {
    const index = readFileSync(new URL('../../src/index.ts', import.meta.url), 'utf8');
    assert.doesNotMatch(index, /export \*/);
    assert.doesNotMatch(index, /export default/);
  });
});
