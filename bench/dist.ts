/**
 * The request-plane benchmarks run the compiled package (`dist/`, what users install), not the
 * TypeScript sources through tsx: tsx keeps function names by wrapping every function it
 * compiles (esbuild's `keepNames`), which adds a property definition per closure made — a
 * per-request cost the published code does not have.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Builds `dist/` from the current sources (`npm run build`). */
export function buildDist(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) throw new Error('npm run build failed');
}

/**
 * Imports `dist/<module>.js`, typed as its source (`fromDist<typeof import('../src/x.ts')>('x')`).
 * `BENCH_DIST`: another build's `dist/` directory instead (bench/request-plane.ts's `BENCH_BASE`).
 */
export async function fromDist<T>(module: string): Promise<T> {
  const dist = process.env['BENCH_DIST'];
  const root = dist === undefined ? new URL('../dist/', import.meta.url) : pathToFileURL(`${resolve(dist)}/`);
  return (await import(new URL(`${module}.js`, root).href)) as T;
}
