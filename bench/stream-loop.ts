/**
 * What the automatic metrics add to a request and to a streamed message, measured where the
 * request plane's benchmark cannot resolve it: the server's request runner (`RequestRunner`, the
 * compiled package) in this one process, with a publisher that does nothing but report each
 * response's size — no NATS, no socket, so no timing between processes to move the figures. Two
 * workloads: a handler's async generator of 100 responses of 98 characters (8 streams at a time,
 * like bench/request-plane.ts's streaming variant), and a handler returning one value of 98
 * characters (64 at a time, like its echo). Observers, in interleaved rounds:
 *   - none: every hook returns at once (the plane served bare);
 *   - clock: every hook that returns a mark reads `performance.now()` and does nothing else — a
 *     clock read per message, as the metrics timed a stream before they shared a batch's reading;
 *   - ours: the endpoint's `EndpointRecorder`, as the runtime wires it, timed by the publisher's
 *     clock: one reading per batch — the messages of a turn, which leave together.
 * "clock" minus "none" is what a clock read per message costs in the loop; "ours" minus "none" is
 * what the metrics cost. The stand-in publisher batches as the real one does: a turn's messages
 * until a flush at the end of the turn (`setImmediate`).
 * Run: npm run bench:stream-loop   (BENCH_REQUESTS=5000 streams, BENCH_UNARY=200000 requests, BENCH_ROUNDS=11)
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
const UNARY = Number(process.env['BENCH_UNARY'] ?? 200_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 11);
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
  'the clock alone, read for every mark': returnsAtOnce(() => performance.now()),
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
  publishLast: () => void ended++,
  publishError() {},
  flush() {},
  clock,
} as unknown as Publisher;

interface Workload {
  title: string;
  unit: string;
  engine: () => unknown;
  requests: number;
  inFlight: number;
  /** Units measured per request: response messages, or the request. */
  perRequest: number;
}
const workloads: Workload[] = [
  { title: `The server's stream loop alone: CPU per response message (100 responses of 98 characters per request, 8 in flight, ${REQUESTS.toLocaleString()} requests × ${ROUNDS} rounds, no network)`, unit: 'ns/msg', engine: () => hundred(), requests: REQUESTS, inFlight: 8, perRequest: 100 },
  { title: `The server's request runner alone: CPU per request answered with one value (98 characters, 64 in flight, ${UNARY.toLocaleString()} requests × ${ROUNDS} rounds, no network)`, unit: 'ns/req', engine: () => PIECE, requests: UNARY, inFlight: 64, perRequest: 1 },
];

/** Serves `n` requests of `workload` with `observer`, `inFlight` at a time; returns the CPU time per unit, in ns. */
async function serve(workload: Workload, runner: InstanceType<typeof RequestRunner>, observer: Observer): Promise<number> {
  const { requests: n, inFlight } = workload;
  const cpu = process.cpuUsage();
  ended = 0;
  for (let i = 0; i < n; i += inFlight) {
    const target = ended + inFlight;
    for (let j = 0; j < inFlight; j++) {
      const ctx = new LazyRequestContext<undefined>(`r${i + j}`, undefined, 'bench', undefined);
      runner.serve(new ServedStream(`_INBOX.${i + j}`, `k${i + j}`, 128, ctx, observer.requestStarted(100), undefined), 'go');
    }
    while (ended < target) await new Promise((resolve) => setImmediate(resolve));
  }
  const used = process.cpuUsage(cpu);
  return ((used.user + used.system) * 1000) / (n * workload.perRequest);
}

const names = Object.keys(observers);
for (const workload of workloads) {
  const runners = names.map((name) => new RequestRunner({ subject: 'bench.loop', engine: workload.engine, observer: observers[name]!, out, logger, stallTimeoutMs: 60_000 }));
  for (let v = 0; v < names.length; v++) await serve(workload, runners[v]!, observers[names[v]!]!);
  const samples = names.map((): number[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [0, 1, 2] : [2, 1, 0];
    for (const v of order) samples[v]!.push(await serve(workload, runners[v]!, observers[names[v]!]!));
  }
  printTable(workload.title, workload.unit, names.map((name, v) => ({ name, stats: stats(samples[v]!) })), names[0]!);
  // Rounds drift together: the differences within each round are steadier than those of the medians.
  const [none, perMessage, ours] = samples as [number[], number[], number[]];
  const apart = (a: number[], b: number[]): string => `${stats(a.map((x, i) => x - b[i]!)).median.toFixed(0)} ns`;
  const per = workload.perRequest === 1 ? 'request' : 'message';
  console.log(`\nper ${per}, the median of the differences within a round: the clock reads alone ${apart(perMessage, none)}; the metrics ${apart(ours, none)}\n`);
}
