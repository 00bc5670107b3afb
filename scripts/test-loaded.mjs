// `npm run test:loaded`: the flakiness budget. Runs the whole suite (`npm test`) several times in a
// row while busy loops keep every core busy, and reports each run's duration and failures. A test
// that fails here but not on an idle machine depends on speed or timing: that is a bug in the test
// (or a real race in the code), never a reason to loosen an assertion.
//
//   npm run test:loaded               5 runs, one busy loop per core
//   npm run test:loaded -- --runs 2   fewer runs
//   LOADED_BUSY=1 npm run test:loaded one busy loop instead of one per core
//
// The busy loops are bounded: each ends by itself after BUSY_MAX_MS even if this script is killed
// without a chance to stop them, and this script stops them (by pid) as soon as the runs are done.
// Not part of `npm test`: it takes about 5 × the suite's time.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg === -1 ? 5 : Number(process.argv[runsArg + 1]);
const BUSY = Number(process.env['LOADED_BUSY'] ?? availableParallelism());
/** A busy loop never outlives this, whatever happens to the script that started it. */
const BUSY_MAX_MS = 60 * 60 * 1000;

if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs wants a positive integer, got ${process.argv[runsArg + 1]}`);
if (!Number.isInteger(BUSY) || BUSY < 0) throw new Error(`LOADED_BUSY wants a non-negative integer, got ${process.env['LOADED_BUSY']}`);

// Pure CPU, no allocation: it competes for cores, not for memory.
const busyLoop = `const end = Date.now() + ${BUSY_MAX_MS}; let x = 0; while (Date.now() < end) { for (let i = 0; i < 1e6; i++) x = (x * 31 + i) | 0; }`;
const busy = Array.from({ length: BUSY }, () => spawn(process.execPath, ['-e', busyLoop], { stdio: 'ignore' }));
const stopBusy = () => {
  for (const child of busy) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
};
process.on('exit', stopBusy);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopBusy();
    process.exit(130);
  });
}

const logDir = mkdtempSync(join(tmpdir(), 'dynamo-test-loaded-'));
console.log(`test:loaded: ${RUNS} runs of the whole suite with ${BUSY} busy loop(s) on ${availableParallelism()} core(s); full logs in ${logDir}`);

/** One `npm test` (scripts/test.mjs), its output to a log file; resolves with its exit code, duration and failed test lines. */
function runSuite(index) {
  return new Promise((resolve) => {
    const logPath = join(logDir, `run-${index}.log`);
    const log = createWriteStream(logPath);
    const failed = [];
    let pendingLine = '';
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, ['scripts/test.mjs'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (chunk) => {
      log.write(chunk);
      const lines = (pendingLine + chunk.toString('utf8')).split('\n');
      pendingLine = lines.pop() ?? '';
      // The spec reporter marks each failed test (and its suites) with ✖.
      for (const line of lines) if (/^\s*✖/.test(line)) failed.push(line.trim());
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('close', (code, signal) => {
      log.end();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      resolve({ index, code: code ?? (signal === null ? 1 : 128), seconds, failed: [...new Set(failed)], logPath });
    });
  });
}

const results = [];
try {
  for (let i = 1; i <= RUNS; i++) {
    const result = await runSuite(i);
    results.push(result);
    const verdict = result.code === 0 ? 'pass' : `FAIL (exit ${result.code})`;
    console.log(`run ${i}/${RUNS}: ${verdict} in ${result.seconds.toFixed(1)} s`);
    for (const line of result.failed) console.log(`  ${line}`);
  }
} finally {
  stopBusy();
}

const failedRuns = results.filter((r) => r.code !== 0);
console.log(`test:loaded: durations ${results.map((r) => `${r.seconds.toFixed(1)} s`).join(', ')}; ${failedRuns.length} of ${results.length} runs failed`);
for (const r of failedRuns) console.log(`  run ${r.index}: see ${r.logPath}`);
process.exit(failedRuns.length === 0 ? 0 : 1);
