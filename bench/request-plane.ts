/**
 * The request plane against raw NATS, and the metrics on top of it, in one run against a real
 * nats-server on loopback. Variants:
 *   - raw nats.js: a responder answering `msg.respond(msg.data)` and a requester calling
 *     `nc.request()`, both connected with `noAsyncTraces: true` as ours are;
 *   - ours served bare (no metrics), bare but reading the clock where the metrics do, with our
 *     automatic metrics, with the tracing hooks (no SDK), with the stock OpenTelemetry sync
 *     instruments, with prom-client — each driven by our client.
 * Per variant: the responder's CPU per request (its own process, pinned to core 1 when `taskset`
 * exists), the requester's CPU per request (this process; nats-server shares its core), and the
 * throughput at 64 requests in flight. Both sides run the compiled package (bench/dist.ts).
 *
 * Streaming variant (BENCH_MODE=stream): each request is answered with 100 responses of 100 bytes
 * (raw: the same 100 bytes published 100 times, then an empty message that ends the stream; ours:
 * a generator yielding a 98-character string, 100 bytes of JSON); the responder's CPU is reported
 * per response message, 8 requests in flight.
 *
 * Run: npm run bench:request-plane   (BENCH_REQUESTS=40000 BENCH_ROUNDS=11 BENCH_MODE=echo|stream)
 * BENCH_VARIANTS=raw,ours: only those variants. BENCH_BASE=<dir>: one more, `base` — ours with
 * metrics as another build serves it (the `dist/` directory of an earlier commit, built with its
 * `npm run build`), so a change is measured against what it changes in the same run, round by
 * round. BENCH_NODE_FLAGS: flags for the responders' Node.
 * Each round's responder is a fresh process, warmed up by BENCH_WARMUP requests first (default
 * 3,000, in both modes): V8 optimizes a function only after some thousands of calls, and a
 * stream's per-request code (parsing the request, starting and ending it) is called once per 100
 * messages — with a warm-up of 30 streams, V8's helper threads spent more CPU compiling it inside
 * the measured window than the main thread spent serving (docs/benchmarks.md, §8). What a fresh
 * process pays is seen with BENCH_WARMUP=30, and in the helper-thread table either way.
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '../test/helpers/nats-server.ts';
import { printTable, stats, type Row } from './common.ts';
import { buildDist, fromDist } from './dist.ts';
import { rawCaller } from './raw-caller.ts';

buildDist();
const { createLogger } = await fromDist<typeof import('../src/logging/logger.ts')>('logging/logger');
const { EndpointClient } = await fromDist<typeof import('../src/transport/client.ts')>('transport/client');
const { NatsTransport } = await fromDist<typeof import('../src/transport/nats-connection.ts')>('transport/nats-connection');
const { endpointSubject } = await fromDist<typeof import('../src/transport/protocol.ts')>('transport/protocol');
type Client = InstanceType<typeof EndpointClient>;

const STREAM = process.env['BENCH_MODE'] === 'stream';
/** Responses per request: 100 in the streaming variant. */
const PER_REQUEST = STREAM ? 100 : 1;
const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? (STREAM ? 2000 : 40_000));
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 11);
const CONCURRENCY = STREAM ? 8 : 64;
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 3000);
const BASE = process.env['BENCH_BASE'];
/** Flags for the responders' Node, e.g. `--trace-opt --trace-deopt` to see what V8 compiles when. */
const NODE_FLAGS = process.env['BENCH_NODE_FLAGS']?.split(' ').filter(Boolean) ?? [];
const VARIANTS = {
  raw: STREAM ? 'raw nats.js, publish loop' : 'raw nats.js',
  ...(STREAM ? { rawasync: 'raw nats.js, from an async generator' } : {}),
  bare: 'ours, served bare (no metrics)',
  clock: "ours, served bare, reading the clock where the metrics do",
  ours: 'ours, automatic metrics',
  traced: 'ours + tracing hooks, no SDK',
  otel: 'ours, stock OTel sync instruments',
  prom: 'ours, prom-client',
  ...(BASE !== undefined ? { base: 'ours, automatic metrics, base build' } : {}),
} as const;
type Variant = 'raw' | 'rawasync' | 'bare' | 'clock' | 'ours' | 'traced' | 'otel' | 'prom' | 'base';

const PIN = cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
if (PIN) spawnSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
const nats = await startNatsServer();
if (PIN) spawnSync('sh', ['-c', `for p in $(pgrep -f 'nats-server -c'); do taskset -p -c 0 $p; done`], { stdio: 'ignore' });
const transport = await NatsTransport.connect([nats.url], {}, createLogger('warn'), 'bench-requester');
const raw = await connect({ servers: nats.url, noAsyncTraces: true });
const subject = endpointSubject('bench', 'echo', 'echo');
const payload = 'x'.repeat(98); // a 100-byte JSON string
const payloadBytes = new TextEncoder().encode(JSON.stringify(payload));

function message<T>(child: ChildProcess, pred: (m: T) => boolean): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: T): void => {
      if (pred(m)) {
        child.off('message', on);
        resolve(m);
      }
    };
    child.on('message', on);
  });
}

/** `n` requests, `CONCURRENCY` at a time, each with `call`. */
async function load(n: number, call: () => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < n) await call();
    }),
  );
}

function caller(variant: Variant): { call: () => Promise<unknown>; close: () => Promise<void> | void; start: () => Promise<void> } {
  if (variant === 'raw' || variant === 'rawasync') return rawCaller(raw, subject, payloadBytes, STREAM);
  const client: Client = new EndpointClient(transport, subject, createLogger('warn'), { timeoutMs: 30_000 });
  return { call: () => client.generate(payload).collect(), close: () => client.close(), start: () => client.start() };
}

const only = process.env['BENCH_VARIANTS']?.split(',');
const order = (Object.keys(VARIANTS) as Variant[]).filter((v) => only === undefined || only.includes(v) || v === 'base');
const samples = (): Record<Variant, number[]> => ({ raw: [], rawasync: [], bare: [], clock: [], ours: [], traced: [], otel: [], prom: [], base: [] });
const cpu = samples();
/** The part of `cpu` on V8's helper threads (compiling, collecting garbage), where /proc tells. */
const helperCpu = samples();
const callerCpu = samples();
const rps = samples();
const label = (v: Variant): string => (VARIANTS as Record<string, string>)[v]!;

for (let round = 0; round < ROUNDS; round++) {
  // Each round starts one variant further on, and every other round runs backwards, so every
  // variant takes each place in a round: a variant always run in the middle measured ≈ 10 % apart
  // from the same build run at the ends (an A/A run with BENCH_BASE set to a copy of dist/).
  const rotated = [...order.slice(round % order.length), ...order.slice(0, round % order.length)];
  for (const variant of round % 2 === 0 ? rotated : rotated.reverse()) {
    // The responder gets a core of its own (when taskset exists): the requester and nats-server
    // share the other, so the responder's CPU time is not inflated by their scheduling.
    const script = fileURLToPath(new URL('./responder.ts', import.meta.url));
    const args = [variant === 'base' ? 'ours' : variant, nats.url, STREAM ? 'stream' : 'echo'];
    const env = variant === 'base' ? { ...process.env, BENCH_DIST: BASE } : process.env;
    const child = PIN
      ? spawn('taskset', ['-c', '1', process.execPath, ...NODE_FLAGS, '--import', 'tsx', script, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env })
      : fork(script, args, { execArgv: [...NODE_FLAGS, '--import', 'tsx'], env });
    await message<{ ready?: boolean }>(child, (m) => m.ready === true);
    const c = caller(variant);
    await c.start();
    await load(WARMUP, c.call);
    child.send('start');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await load(REQUESTS, c.call);
    const ms = performance.now() - t0;
    const used = process.cpuUsage(cpu0);
    child.send('stop');
    const r = await message<{ cpuUs?: number; mainShare?: number; requests?: number }>(child, (m) => m.cpuUs !== undefined);
    cpu[variant].push(r.cpuUs! / (r.requests! * PER_REQUEST));
    if (r.mainShare !== undefined) helperCpu[variant].push((r.cpuUs! * (1 - r.mainShare)) / (r.requests! * PER_REQUEST));
    callerCpu[variant].push((used.user + used.system) / REQUESTS);
    rps[variant].push((REQUESTS / ms) * 1000);
    await c.close();
    child.send('exit');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

const rows = (of: Record<Variant, number[]>): Row[] => order.map((v) => ({ name: label(v), stats: stats(of[v]) }));
printTable(
  STREAM
    ? `Request plane, streaming: responder CPU per response message (1 request → 100 responses of 100 bytes, ${REQUESTS.toLocaleString()} requests × ${ROUNDS} rounds after ${WARMUP.toLocaleString()} to warm up, ${CONCURRENCY} in flight)`
    : `Request plane: responder CPU per request (echo of 100 bytes, ${REQUESTS.toLocaleString()} requests × ${ROUNDS} rounds after ${WARMUP.toLocaleString()} to warm up, ${CONCURRENCY} in flight)`,
  STREAM ? 'µs/msg' : 'µs/req',
  rows(cpu),
  label('raw'),
);
if (helperCpu.ours.length > 0) {
  printTable(
    `Of which on the responder's other threads: V8 compiling hot code and collecting garbage (a fresh process compiles inside a short window: BENCH_WARMUP)`,
    STREAM ? 'µs/msg' : 'µs/req',
    rows(helperCpu),
    label('raw'),
  );
}
printTable('Requester CPU per request, same runs (the benchmark process; nats-server shares its core)', 'µs/req', rows(callerCpu), label('raw'));
printTable('Throughput, same runs (one requester process)', 'req/s', rows(rps), label('raw'));
// Machine drift moves whole rounds up and down; the ratio within each round (variants run back to
// back) is steadier than the ratio of medians, so both are shown.
const paired = (a: number[], b: number[]) => stats(a.map((x, i) => x / b[i]!)).median;
const ratio = (a: number[], b: number[]) => stats(a).median / stats(b).median;
const both = (a: number[], b: number[]) => (a.length === 0 || b.length === 0 ? 'not run' : `${ratio(a, b).toFixed(2)}× (per-round ${paired(a, b).toFixed(2)}×)`);
console.log(`\n${PIN ? 'responder pinned to core 1; requester and nats-server on core 0' : 'no CPU pinning (taskset missing)'}`);
if (STREAM) {
  console.log(`responder per message, ours with metrics vs raw publish loop: ${both(cpu.ours, cpu.raw)} (target ≤ 1.5×); vs raw from an async generator: ${both(cpu.ours, cpu.rawasync)}`);
} else {
  console.log(`responder CPU, ours with metrics vs raw: ${both(cpu.ours, cpu.raw)} (target ≤ 2×); served bare vs raw: ${both(cpu.bare, cpu.raw)}`);
  console.log(`requester CPU, ours vs raw: ${both(callerCpu.ours, callerCpu.raw)} (target ≤ 1.3×)`);
  console.log(`throughput at ${CONCURRENCY} in flight, ours vs raw: ${both(rps.ours, rps.raw)} (target ≥ 0.8×)`);
}
console.log(`metrics on top of the plane: responder CPU ${both(cpu.ours, cpu.bare)} (target ≤ 1.05×), throughput ${both(rps.ours, rps.bare)}`);
console.log(`their clock reads alone on top of the plane: responder CPU ${both(cpu.clock, cpu.bare)}`);
console.log(`tracing hooks with no SDK on top of the metrics: responder CPU ${both(cpu.traced, cpu.ours)}`);
console.log(`stock OTel instead of ours: responder CPU ${both(cpu.otel, cpu.bare)} of bare; prom-client ${both(cpu.prom, cpu.bare)}`);
if (BASE !== undefined) console.log(`this build against the base build (${BASE}), ours with metrics: responder CPU ${both(cpu.ours, cpu.base)} (both driven by this build's client)`);
await transport.close();
await raw.close();
await nats.stop();
