// `npm run build`: the published form, ESM and CommonJS, each with its own declarations.
//
//   dist/        ESM (`import`), from tsconfig.build.json
//   dist/cjs/    CommonJS (`require`), the same sources compiled a second time by tsc
//
// Why two tsc passes and not a bundler: tsc is already the one tool that type-checks and emits
// here, and its CommonJS output keeps one file per module, so stack traces and source maps point
// at the same files as the ESM build. With `module: NodeNext`, tsc picks each file's output format
// from the nearest package.json `type`; the CommonJS pass therefore compiles a copy of `src/` that
// sits under a `{"type":"commonjs"}` package.json (the approach tshy takes), and `dist/cjs/` gets
// the same marker so Node and TypeScript read its `.js` and `.d.ts` files as CommonJS.
//
// tsc rewrites `./x.ts` to `./x.js` in emitted JavaScript but not in declaration files
// (microsoft/TypeScript#61037), and TypeScript before 5.7 cannot resolve a `.ts` path from a
// `.d.ts`; so the declarations are rewritten here, then checked.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
process.chdir(root);
const tsc = join('node_modules', 'typescript', 'bin', 'tsc');
const cjsSources = join('.build', 'cjs');

function compile(project) {
  const run = spawnSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
  if (run.status !== 0) {
    console.error(`build: tsc -p ${project} failed`);
    process.exit(run.status ?? 1);
  }
}

function files(dir, suffix) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path, suffix);
    return name.endsWith(suffix) ? [path] : [];
  });
}

const commonjs = `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`;

rmSync('dist', { recursive: true, force: true });
rmSync(cjsSources, { recursive: true, force: true });

compile('tsconfig.build.json');

mkdirSync(cjsSources, { recursive: true });
cpSync('src', join(cjsSources, 'src'), { recursive: true });
writeFileSync(join(cjsSources, 'package.json'), commonjs);
try {
  compile('tsconfig.cjs.json');
} finally {
  rmSync('.build', { recursive: true, force: true });
}
writeFileSync(join('dist', 'cjs', 'package.json'), commonjs);
// The CommonJS maps point at the copy; point them at the shipped src/ instead.
for (const file of files(join('dist', 'cjs'), '.js.map')) {
  const map = JSON.parse(readFileSync(file, 'utf8'));
  map.sources = map.sources.map((source) => source.replace('.build/cjs/src/', 'src/'));
  writeFileSync(file, JSON.stringify(map));
}

// Relative specifiers only: `from './x.ts'`, `import('./x.ts')`, `declare module './x.ts'`.
const tsSpecifier = /((?:from|import\(|module)\s*['"])(\.{1,2}\/[^'"]*?)\.ts(['"])/g;
let rewritten = 0;
for (const file of files('dist', '.d.ts')) {
  const text = readFileSync(file, 'utf8');
  const next = text.replace(tsSpecifier, (_m, head, path, quote) => {
    rewritten++;
    return `${head}${path}.js${quote}`;
  });
  if (next !== text) writeFileSync(file, next);
  const left = next.match(/['"]\.{1,2}\/[^'"]*\.ts['"]/);
  if (left !== null) {
    console.error(`build: ${file} still imports ${left[0]}`);
    process.exit(1);
  }
}
console.log(`build: dist/ (ESM) and dist/cjs/ (CommonJS); ${rewritten} declaration import paths rewritten from .ts to .js`);
