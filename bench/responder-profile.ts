/**
 * A driver for profiling the responder alone: the responder of bench/request-plane.ts
 * (bench/responder.ts, one variant, the compiled package) runs in its own process, driven by our
 * client from this one, and writes a CPU profile of the measured window (after a warm-up), so the
 * profile holds only the serving path (the raw variants are driven by a raw requester). Echo: 64 unary requests in flight (100-byte payload);
 * stream: each request answered with 100 responses of 100 bytes, 8 in flight.
 * BENCH_NO_BUILD=1 runs `dist/` as it is.
 *   node --import tsx bench/responder-profile.ts <file.cpuprofile> [requests] [echo|stream] [variant=ours]
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile>
 */
import { fork, spawn, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNatsServer } from '../test/helpers/nats-server.ts';
import { buildDist, fromDist } from './dist.ts';
import { rawCaller } from './raw-caller.ts';

const [file, requests, mode = 'echo', variant = 'ours'] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: responder-profile.ts <file.cpuprofile> [requests] [echo|stream] [variant]');
if (process.env['BENCH_NO_BUILD'] !== '1') buildDist();
const { createLogger } = await fromDist<typeof import('../src/logging/logger.ts')>('logging/logger');
const { EndpointClient } = await fromDist<typeof import('../src/transport/client.ts')>('transport/client');
const { NatsTransport } = await fromDist<typeof import('../src/transport/nats-connection.ts')>('transport/nats-connection');
const { endpointSubject } = await fromDist<typeof import('../src/transport/protocol.ts')>('transport/protocol');

const STREAM = mode === 'stream';
const PER_REQUEST = STREAM ? 100 : 1;
const REQUESTS = Number(requests ?? (STREAM ? 5000 : 100_000));
const CONCURRENCY = STREAM ? 8 : 64;
// Pinned as bench/request-plane.ts pins (when taskset exists): the responder on core 1, this
// process and nats-server on core 0.
const PIN = cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
if (PIN) spawnSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
const nats = await startNatsServer();
if (PIN) spawnSync('sh', ['-c', `for p in $(pgrep -f 'nats-server -c'); do taskset -p -c 0 $p; done`], { stdio: 'ignore' });
const script = fileURLToPath(new URL('./responder.ts', import.meta.url));
const args = [variant, nats.url, STREAM ? 'stream' : 'echo'];
const env = { ...process.env, BENCH_CPU_PROFILE: resolve(file) };
const child = PIN
  ? spawn('taskset', ['-c', '1', process.execPath, '--import', 'tsx', script, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env })
  : fork(script, args, { execArgv: ['--import', 'tsx'], env });
const next = <T>(): Promise<T> => new Promise<T>((done) => child.once('message', (m) => done(m as T)));
await next();
const transport = await NatsTransport.connect([nats.url], {}, createLogger('warn'), 'bench-requester');
const subject = endpointSubject('bench', 'echo', 'echo');
const payload = 'x'.repeat(98);
// The raw responders answer a raw requester; ours, our client.
const raw = variant === 'raw' || variant === 'rawasync' ? rawCaller(transport.nc, subject, new TextEncoder().encode(JSON.stringify(payload)), STREAM) : undefined;
const client = raw === undefined ? new EndpointClient(transport, subject, createLogger('warn'), { timeoutMs: 30_000 }) : undefined;
await (raw ?? client!).start();
const call = raw === undefined ? () => client!.generate(payload).collect() : () => raw.call();
async function load(n: number): Promise<void> {
  let sent = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (sent++ < n) await call();
    }),
  );
}
await load(3000); // warm-up, outside the profile: as bench/request-plane.ts's
child.send('start');
await load(REQUESTS);
const result = next<{ cpuUs: number; requests: number }>();
child.send('stop');
const { cpuUs, requests: served } = await result;
raw?.close();
await client?.close();
await transport.close();
child.send('exit');
await new Promise((done) => child.once('exit', done));
await nats.stop();
console.log(`'${variant}' ${mode}: ${(cpuUs / (served * PER_REQUEST)).toFixed(2)} µs responder CPU per ${STREAM ? 'message' : 'request'} (profiler on); profile in ${resolve(file)}`);
