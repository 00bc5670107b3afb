/**
 * What the automatic metrics add to a streamed message, measured where the request plane's
 * benchmark cannot resolve it: the server's stream loop (`RequestRunner`, the compiled package)
 * serving a handler's async generator of 100 responses of 98 characters, in this one process, with
 * a publisher that does nothing but report each response's size — no NATS, no socket, so no
 * timing between processes to move the figures. Observers, in interleaved rounds:
 *   - none: every hook returns at once (the plane served bare);
 *   - clock: every hook that returns a mark reads `performance.now()` and does nothing else — a
 *     clock read per message, as the metrics timed a stream before they shared a batch's reading;
 *   - ours: the endpoint's `EndpointRecorder`, as the runtime wires it, timed by the publisher's
 *     clock: one reading per batch — the messages of a turn, which leave together.
 * "clock" minus "none" is what a clock read per message costs in the loop; "ours" minus "none" is
 * what the metrics cost. The stand-in publisher batches as the real one does: a turn's messages
 * until a flush at the end of the turn (`setImmediate`). 8 streams at a time, like
 * bench/request-plane.ts's streaming variant.
 * Run: npm run bench:stream-loop   (BENCH_REQUESTS=5000 BENCH_ROUNDS=11)
 */
import { printTable, stats } from './common.ts';
import { buildDist, fromDist } from './dist.ts';

if (process.env['BENCH_NO_BUILD'] !== '1') buildDist();
const { RequestRunner } = await fromDist<typeof import('../src/transport/request-runner.ts')>('transport/request-runner');
const { ServedStream } = await fromDist<typeof import('../src/transport/served-stream.ts')>('transport/served-stream');
const { LazyRequestContext } = await fromDist<typeof import('../src/transport/request-context.ts')>('transport/request-context');
const { EndpointRecorder } = await fromDist<typeof import('../src/metrics/endpoint-recorder.ts')>('metrics/endpoint-recorder');
const { createLogger } = await fromDist<typeof import('../src/logging/logger.ts')>('logging/logger');
const { DEFAULT_DURATION_BUCKETS } = await fromDist<typeof import('../src/metrics/names.ts')>('metrics/names');
type Observer = import('../src/transport/request-runner.ts').RequestObserver;
type PublishClock = import('../src/metrics/endpoint-recorder.ts').PublishClock;
type Publisher = ConstructorParameters<typeof RequestRunner>[0]['out'];

const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 5000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 11);
const IN_FLIGHT = 8;
const PIECE = 'x'.repeat(98);

async function* hundred(): AsyncGenerator<string> {
  for (let i = 0; i < 100; i++) yield PIECE;
}

const returnsAtOnce = (mark: () => number): Observer => ({
  requestStarted: mark,
  responsePublished() {},
  dataPublished: mark,
  error() {},
  cancelled() {},
  requestEnded() {},
});
const logger = createLogger('warn');
const observers: Record<string, Observer> = {
  'no metrics': returnsAtOnce(() => 0),
  'a clock read per message, nothing else': returnsAtOnce(() => performance.now()),
  'ours (EndpointRecorder)': new EndpointRecorder({ dynamo_namespace: 'bench', dynamo_component: 'loop', dynamo_endpoint: 'stream' }, DEFAULT_DURATION_BUCKETS, logger),
};

let ended = 0;
// Stands in for the response publisher: what the loop calls on it, doing nothing but count — and
// its clock, whose batch ends with the turn, as the real outbox's does (turn-outbox.ts).
let scheduled = false;
let batchReading = -1;
const endBatch = (): void => {
  scheduled = false;
  batchReading = -1;
};
const clock: PublishClock = {
  now() {
    const t = performance.now();
    if (scheduled) batchReading = t;
    return t;
  },
  batchTime: () => (batchReading === -1 ? clock.now() : batchReading),
};
const out = {
  publishData(_reply: string, value: unknown) {
    if (!scheduled) {
      scheduled = true;
      setImmediate(endBatch);
    }
    return (value as string).length + 2;
  },
  publishEnd: () => void ended++,
  publishLast() {},
  publishError() {},
  flush() {},
  clock,
} as unknown as Publisher;

const runners = Object.fromEntries(
  Object.entries(observers).map(([name, observer]) => [name, new RequestRunner({ subject: 'bench.loop', engine: () => hundred(), observer, out, logger, stallTimeoutMs: 60_000 })]),
);

/** Serves `n` streams, `IN_FLIGHT` at a time; returns the CPU time per response message, in ns. */
async function serve(name: string, n: number): Promise<number> {
  const runner = runners[name]!;
  const observer = observers[name]!;
  const cpu = process.cpuUsage();
  ended = 0;
  for (let i = 0; i < n; i += IN_FLIGHT) {
    const target = ended + IN_FLIGHT;
    for (let j = 0; j < IN_FLIGHT; j++) {
      const ctx = new LazyRequestContext<undefined>(`r${i + j}`, undefined, 'bench', undefined);
      runner.serve(new ServedStream(`_INBOX.${i + j}`, `k${i + j}`, 128, ctx, observer.requestStarted(100), undefined), 'go');
    }
    while (ended < target) await new Promise((resolve) => setImmediate(resolve));
  }
  const used = process.cpuUsage(cpu);
  return ((used.user + used.system) * 1000) / (n * 100);
}

const names = Object.keys(observers);
for (const name of names) await serve(name, REQUESTS);
const samples: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const name of round % 2 === 0 ? names : [...names].reverse()) samples[name]!.push(await serve(name, REQUESTS));
}
printTable(
  `The server's stream loop alone: CPU per response message (100 responses of 98 characters per request, ${IN_FLIGHT} in flight, ${REQUESTS.toLocaleString()} requests × ${ROUNDS} rounds, no network)`,
  'ns/msg',
  names.map((name) => ({ name, stats: stats(samples[name]!) })),
  names[0]!,
);
// Rounds drift together: the differences within each round are steadier than those of the medians.
const [none, perMessage, ours] = names.map((name) => samples[name]!) as [number[], number[], number[]];
const apart = (a: number[], b: number[]): string => `${stats(a.map((x, i) => x - b[i]!)).median.toFixed(0)} ns`;
console.log(`\nper message, the median of the differences within a round: a clock read per message ${apart(perMessage, none)}; the metrics, timed by their batch ${apart(ours, none)}`);
