/**
 * The request-plane benchmarks run the compiled package (`dist/`, what users install), not the
 * TypeScript sources through tsx: tsx keeps function names by wrapping every function it
 * compiles (esbuild's `keepNames`), which adds a property definition per closure made — a
 * per-request cost the published code does not have.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Builds `dist/` from the current sources (`npm run build`). */
export function buildDist(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) throw new Error('npm run build failed');
}

/** Imports `dist/<module>.js`, typed as its source (`fromDist<typeof import('../src/x.ts')>('x')`). */
export async function fromDist<T>(module: string): Promise<T> {
  return (await import(new URL(`../dist/${module}.js`, import.meta.url).href)) as T;
}
