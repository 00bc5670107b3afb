// Makes sure the real external tools the tests and the demo use are on this machine:
// nats-server and promtool/prometheus, from Debian's packages. Installs them when missing and
// we are root; otherwise says exactly what to run.
import { spawnSync } from 'node:child_process';

const TOOLS = [
  { bin: 'nats-server', pkg: 'nats-server' },
  { bin: 'promtool', pkg: 'prometheus' },
  { bin: 'prometheus', pkg: 'prometheus' },
];

function has(bin) {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

export function ensureTools(wanted = TOOLS.map((t) => t.bin)) {
  const missing = TOOLS.filter((t) => wanted.includes(t.bin) && !has(t.bin));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = has('apt-get');
  if (!isRoot || !hasApt) {
    console.error(
      `Missing: ${missing.map((t) => t.bin).join(', ')}. Install them first, e.g.:\n  sudo apt-get update && sudo apt-get install -y ${pkgs.join(' ')}`,
    );
    process.exit(1);
  }
  console.error(`Installing ${pkgs.join(', ')} from Debian packages (missing: ${missing.map((t) => t.bin).join(', ')})...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...pkgs]]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (r.status !== 0) {
      console.error(`apt-get ${args.join(' ')} failed with exit code ${r.status}`);
      process.exit(1);
    }
  }
  const still = missing.filter((t) => !has(t.bin));
  if (still.length > 0) {
    console.error(`Still missing after install: ${still.map((t) => t.bin).join(', ')}`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) ensureTools();
