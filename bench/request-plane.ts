/**
 * Target 2: a NATS echo endpoint served through our request plane with our automatic metrics,
 * against the same endpoint served bare (the same request plane, no metrics), with the stock
 * OpenTelemetry sync instruments, and with prom-client — in the same run, against a real
 * nats-server on loopback. Responder CPU per request (the responder is its own process) and
 * throughput at 64 requests in flight from one requester.
 *
 * Streaming variant (BENCH_MODE=stream): each request is answered with 100 responses of 100 bytes;
 * the responder's CPU is reported per response message, so the per-message cost of the streaming
 * metrics (a response, its gap, its bytes) shows against bare.
 *
 * Run: npm run bench:request-plane   (BENCH_REQUESTS=40000 BENCH_ROUNDS=11 BENCH_MODE=echo|stream)
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../src/logging/logger.ts';
import { EndpointClient } from '../src/transport/client.ts';
import { NatsTransport } from '../src/transport/nats-connection.ts';
import { endpointSubject } from '../src/transport/protocol.ts';
import { startNatsServer } from '../test/helpers/nats-server.ts';
import { printTable, stats, type Row } from './common.ts';

const STREAM = process.env['BENCH_MODE'] === 'stream';
/** Responses per request: 100 in the streaming variant. */
const PER_REQUEST = STREAM ? 100 : 1;
const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? (STREAM ? 2000 : 40_000));
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 11);
const CONCURRENCY = STREAM ? 8 : 64;
const VARIANTS = { bare: 'served bare (no metrics)', ours: 'ours (automatic metrics)', traced: 'ours + tracing hooks, no SDK', otel: 'stock OTel sync instruments', prom: 'prom-client' } as const;
type Variant = keyof typeof VARIANTS;

const PIN = cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
if (PIN) spawnSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
const nats = await startNatsServer();
if (PIN) spawnSync('sh', ['-c', `for p in $(pgrep -f 'nats-server -c'); do taskset -p -c 0 $p; done`], { stdio: 'ignore' });
const transport = await NatsTransport.connect([nats.url], {}, createLogger('warn'), 'bench-requester');
const payload = 'x'.repeat(98); // a 100-byte JSON string

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

async function load(client: EndpointClient, n: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < n) await client.generate(payload).collect();
    }),
  );
  return performance.now() - t0;
}

const cpu: Record<Variant, number[]> = { bare: [], ours: [], traced: [], otel: [], prom: [] };
const rps: Record<Variant, number[]> = { bare: [], ours: [], traced: [], otel: [], prom: [] };
const order = Object.keys(VARIANTS) as Variant[];

for (let round = 0; round < ROUNDS; round++) {
  for (const variant of round % 2 === 0 ? order : [...order].reverse()) {
    // The responder gets a core of its own (when taskset exists): the requester and nats-server
    // share the other, so the responder's CPU time is not inflated by their scheduling.
    const script = fileURLToPath(new URL('./responder.ts', import.meta.url));
    const child = PIN
      ? spawn('taskset', ['-c', '1', process.execPath, '--import', 'tsx', script, variant, nats.url, STREAM ? 'stream' : 'echo'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : fork(script, [variant, nats.url, STREAM ? 'stream' : 'echo'], { execArgv: ['--import', 'tsx'] });
    await message<{ ready?: boolean }>(child, (m) => m.ready === true);
    const client = new EndpointClient(transport, endpointSubject('bench', 'echo', 'echo'), createLogger('warn'), { timeoutMs: 30_000 });
    await client.start();
    await load(client, Math.ceil(3000 / PER_REQUEST)); // warm-up
    child.send('start');
    const ms = await load(client, REQUESTS);
    child.send('stop');
    const r = await message<{ cpuUs?: number; requests?: number }>(child, (m) => m.cpuUs !== undefined);
    cpu[variant].push(r.cpuUs! / (r.requests! * PER_REQUEST));
    rps[variant].push((REQUESTS / ms) * 1000);
    await client.close();
    child.send('exit');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

const cpuRows: Row[] = order.map((v) => ({ name: VARIANTS[v], stats: stats(cpu[v]) }));
const rpsRows: Row[] = order.map((v) => ({ name: VARIANTS[v], stats: stats(rps[v]) }));
printTable(
  STREAM
    ? `Request plane, streaming: responder CPU per response message (1 request → 100 responses of 100 bytes, ${REQUESTS.toLocaleString()} requests × ${ROUNDS} rounds, ${CONCURRENCY} in flight)`
    : `Request plane: responder CPU per request (NATS echo, ${REQUESTS.toLocaleString()} requests × ${ROUNDS} rounds, ${CONCURRENCY} in flight)`,
  STREAM ? 'µs/msg' : 'µs/req',
  cpuRows,
  VARIANTS.bare,
);
printTable('Request plane: throughput, same runs (one requester process: it is the bottleneck)', 'req/s', rpsRows, VARIANTS.bare);
// Machine drift moves whole rounds up and down; the ratio within each round (variants run back to
// back) is steadier than the ratio of medians, so both are shown.
const ratio = (a: number[], b: number[]) => stats(a).median / stats(b).median;
const paired = (a: number[], b: number[]) => stats(a.map((x, i) => x / b[i]!)).median;
console.log(`\n${PIN ? 'responder pinned to core 1; requester and nats-server on core 0' : 'no CPU pinning (taskset missing)'}`);
console.log(`ours: responder CPU ${ratio(cpu.ours, cpu.bare).toFixed(3)}× bare (target ≤ 1.05), throughput ${ratio(rps.ours, rps.bare).toFixed(3)}× bare (target ≥ 0.97)`);
console.log(`ours, median of per-round ratios: responder CPU ${paired(cpu.ours, cpu.bare).toFixed(3)}× bare, throughput ${paired(rps.ours, rps.bare).toFixed(3)}× bare`);
console.log(`tracing off (hooks, no SDK) vs ours, median of per-round ratios: responder CPU ${paired(cpu.traced, cpu.ours).toFixed(3)}×, throughput ${paired(rps.traced, rps.ours).toFixed(3)}×`);
console.log(`stock OTel, same: CPU ${paired(cpu.otel, cpu.bare).toFixed(3)}×, throughput ${paired(rps.otel, rps.bare).toFixed(3)}×; prom-client: CPU ${paired(cpu.prom, cpu.bare).toFixed(3)}×, throughput ${paired(rps.prom, rps.bare).toFixed(3)}×`);
await transport.close();
await nats.stop();
