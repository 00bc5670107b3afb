/**
 * Docs links work where users read them: every relative link of README.md, CHANGELOG.md and
 * docs/*.md names a file that exists and that the published package contains (asked of npm itself,
 * `npm pack --dry-run`), so the links also resolve from an installed copy.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const root = fileURLToPath(new URL('../../', import.meta.url));

function pages(): string[] {
  const docs = readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`);
  return ['README.md', 'CHANGELOG.md', ...docs.sort()];
}

/** Relative link targets of a page (no scheme, not a bare #anchor), resolved from the repository root, anchor dropped. */
function relativeLinks(page: string): Array<{ target: string; file: string }> {
  const text = readFileSync(join(root, page), 'utf8').replace(/```[\s\S]*?```/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1] ?? '')
    .filter((target) => !/^[a-z]+:/i.test(target) && !target.startsWith('#'))
    .map((target) => ({ target, file: normalize(join(dirname(page), target.split('#')[0] ?? '')) }));
}

describe('documentation links', () => {
  const packed = new Set(
    (JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as Array<{ files: Array<{ path: string }> }>)[0]?.files.map(
      (file) => file.path,
    ),
  );

  it('ships README.md, CHANGELOG.md and every docs page', () => {
    for (const page of pages()) assert.ok(packed.has(page), `${page} is not in the package`);
  });

  it('every relative link names a file that exists and is in the package', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const page of pages()) {
      for (const { target, file } of relativeLinks(page)) {
        checked++;
        if (!existsSync(join(root, file))) broken.push(`${page}: ${target} does not exist`);
        else if (!packed.has(file)) broken.push(`${page}: ${target} is not in the package`);
      }
    }
    assert.deepEqual(broken, []);
    assert.notEqual(checked, 0);
  });

  it('the README links every docs page', () => {
    const linked = new Set(relativeLinks('README.md').map((link) => link.file));
    assert.deepEqual(pages().filter((page) => page.startsWith('docs/') && !linked.has(page)), []);
  });
});
