/** `npm run bench`: every benchmark in turn, each in its own process so none warms the other's JIT. */
import { spawnSync } from 'node:child_process';

const BENCHES = ['bench/hot-path.ts', 'bench/scrape.ts', 'bench/otlp-export.ts', 'bench/memory.ts', 'bench/request-plane.ts', 'bench/stream-loop.ts', 'bench/request-binding.ts', 'bench/runtime-health.ts'];

let failed = false;
for (const file of BENCHES) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
