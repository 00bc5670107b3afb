/**
 * A driver for profiling the responder alone: the responder of bench/request-plane.ts
 * (bench/responder.ts, one variant, the compiled package) runs in its own process, driven by our
 * client from this one, and writes a CPU profile of the measured window (after a warm-up), so the
 * profile holds only the serving path. Echo: 64 unary requests in flight (100-byte payload);
 * stream: each request answered with 100 responses of 100 bytes, 8 in flight.
 * BENCH_NO_BUILD=1 runs `dist/` as it is.
 *   node --import tsx bench/responder-profile.ts <file.cpuprofile> [requests] [echo|stream] [variant=ours]
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile>
 */
import { fork } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNatsServer } from '../test/helpers/nats-server.ts';
import { buildDist, fromDist } from './dist.ts';

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
const nats = await startNatsServer();
const child = fork(fileURLToPath(new URL('./responder.ts', import.meta.url)), [variant, nats.url, STREAM ? 'stream' : 'echo'], {
  execArgv: ['--import', 'tsx'],
  env: { ...process.env, BENCH_CPU_PROFILE: resolve(file) },
});
const next = <T>(): Promise<T> => new Promise<T>((done) => child.once('message', (m) => done(m as T)));
await next();
const transport = await NatsTransport.connect([nats.url], {}, createLogger('warn'), 'bench-requester');
const client = new EndpointClient(transport, endpointSubject('bench', 'echo', 'echo'), createLogger('warn'), { timeoutMs: 30_000 });
await client.start();
const payload = 'x'.repeat(98);
async function load(n: number): Promise<void> {
  let sent = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (sent++ < n) await client.generate(payload).collect();
    }),
  );
}
await load(Math.ceil(20_000 / PER_REQUEST)); // warm-up: outside the profile
child.send('start');
await load(REQUESTS);
const result = next<{ cpuUs: number; requests: number }>();
child.send('stop');
const { cpuUs, requests: served } = await result;
await client.close();
await transport.close();
child.send('exit');
await new Promise((done) => child.once('exit', done));
await nats.stop();
console.log(`'${variant}' ${mode}: ${(cpuUs / (served * PER_REQUEST)).toFixed(2)} µs responder CPU per ${STREAM ? 'message' : 'request'} (profiler on); profile in ${resolve(file)}`);
