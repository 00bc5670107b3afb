/**
 * A driver for profiling the requester alone: our client (the compiled package, bench/dist.ts)
 * sends unary echo requests (64 in flight, 100-byte payload) to a bare responder in its own
 * process (bench/responder.ts), so a CPU profile of this process holds only the requester's path.
 * `stream`: each request is answered with 100 responses of 100 bytes (8 in flight, as in
 * bench/request-plane.ts). BENCH_NO_BUILD=1 runs `dist/` as it is.
 *   node --cpu-prof --cpu-prof-dir=<dir> --import tsx bench/requester-profile.ts [requests] [echo|stream]
 *   node --import tsx bench/profile-summary.ts <dir>/<file>.cpuprofile
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startNatsServer } from '../test/helpers/nats-server.ts';
import { buildDist, fromDist } from './dist.ts';

if (process.env['BENCH_NO_BUILD'] !== '1') buildDist();
const { createLogger } = await fromDist<typeof import('../src/logging/logger.ts')>('logging/logger');
const { EndpointClient } = await fromDist<typeof import('../src/transport/client.ts')>('transport/client');
const { NatsTransport } = await fromDist<typeof import('../src/transport/nats-connection.ts')>('transport/nats-connection');
const { endpointSubject } = await fromDist<typeof import('../src/transport/protocol.ts')>('transport/protocol');

const REQUESTS = Number(process.argv[2] ?? 60_000);
const MODE = process.argv[3] === 'stream' ? 'stream' : 'echo';
const CONCURRENCY = MODE === 'stream' ? 8 : 64;
const nats = await startNatsServer();
const child = fork(fileURLToPath(new URL('./responder.ts', import.meta.url)), ['bare', nats.url, MODE], { execArgv: ['--import', 'tsx'] });
await new Promise<void>((resolve) => child.once('message', () => resolve()));
const transport = await NatsTransport.connect([nats.url], {}, createLogger('warn'), 'bench-requester');
const client = new EndpointClient(transport, endpointSubject('bench', 'echo', 'echo'), createLogger('warn'), { timeoutMs: 30_000 });
await client.start();
const payload = 'x'.repeat(98);
let next = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next++ < REQUESTS) await client.generate(payload).collect();
  }),
);
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
console.log(`${REQUESTS} requests: ${((cpu.user + cpu.system) / REQUESTS).toFixed(1)} µs requester CPU per request, ${((REQUESTS / ms) * 1000).toFixed(0)} req/s`);
await client.close();
await transport.close();
child.send('exit');
await new Promise((resolve) => child.once('exit', resolve));
await nats.stop();
