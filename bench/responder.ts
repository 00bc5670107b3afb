/**
 * The responder process of bench/request-plane.ts: serves an echo endpoint through our request
 * plane (the compiled package, bench/dist.ts) with one of five observers — or, for `raw`, answers
 * with nats.js alone — and reports its own CPU time over the measured window.
 *   node --import tsx bench/responder.ts <variant> <nats-url> [echo|stream]
 * `stream`: every request is answered with 100 responses of 100 bytes (a 98-character JSON
 * string; `raw` publishes the same 100 bytes 100 times in a loop, then an empty message that ends
 * it; `rawasync` the same, each message taken from an async generator as ours are).
 * IPC: parent sends 'start' / 'stop'; child answers { ready } and { cpuUs, mainShare, requests }:
 * `mainShare`, the part of the CPU time spent on the main thread (Linux: from /proc; else
 * undefined) — the rest is V8's helper threads, compiling hot code and collecting garbage.
 * BENCH_CPU_PROFILE=<file>: writes a V8 CPU profile of the measured window alone, 'start' to 'stop'
 * (the `--cpu-prof` format, sampled every 50 µs as `--cpu-prof-interval=50`), for
 * bench/profile-summary.ts — without the start-up a whole-process `--cpu-prof` also holds.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { connect, type Msg } from '@nats-io/transport-node';
import client from 'prom-client';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { trace } from '@opentelemetry/api';
import { DEFAULT_DURATION_BUCKETS, DEFAULT_INTER_RESPONSE_BUCKETS, EndpointMetric, type ErrorType } from '../src/metrics/names.ts';
import type { PublishClock } from '../src/metrics/endpoint-recorder.ts';
import type { RequestObserver } from '../src/transport/request-runner.ts';
import { fromDist } from './dist.ts';
import { stockInstruments } from './common.ts';

const { createLogger } = await fromDist<typeof import('../src/logging/logger.ts')>('logging/logger');
const { EndpointRecorder } = await fromDist<typeof import('../src/metrics/endpoint-recorder.ts')>('metrics/endpoint-recorder');
const { EndpointServer } = await fromDist<typeof import('../src/transport/endpoint-server.ts')>('transport/endpoint-server');
const { endpointSubject } = await fromDist<typeof import('../src/transport/protocol.ts')>('transport/protocol');
const { serverTracer } = await fromDist<typeof import('../src/tracing/endpoint-tracing.ts')>('tracing/endpoint-tracing');

const [variant, url, mode = 'echo'] = process.argv.slice(2) as [string, string, string?];
const PIECE = 'x'.repeat(98);
async function* hundred(): AsyncGenerator<string> {
  for (let i = 0; i < 100; i++) yield PIECE;
}
const attrs = { dynamo_namespace: 'bench', dynamo_component: 'echo', dynamo_endpoint: 'echo' };
const subject = endpointSubject(attrs.dynamo_namespace, attrs.dynamo_component, attrs.dynamo_endpoint);
let served = 0;

class Bare implements RequestObserver {
  requestStarted(): number {
    served++;
    return 0;
  }
  responsePublished(): void {}
  dataPublished(): number {
    return 0;
  }
  error(): void {}
  cancelled(): void {}
  requestEnded(): void {}
}

/** Bare, but reading the clock wherever ours does: what the metrics' clock reads cost on the plane. */
class ClockOnly implements RequestObserver {
  private sink = 0;
  requestStarted(): number {
    served++;
    return performance.now();
  }
  responsePublished(): void {}
  dataPublished(_since: number, first: boolean, clock: PublishClock): number {
    return first ? clock.now() : clock.batchTime();
  }
  error(): void {}
  cancelled(): void {}
  requestEnded(_mark: number, _sampled?: unknown, _failed?: unknown, endMark?: number): void {
    if (endMark === undefined) this.sink += performance.now();
  }
}

class Reader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

function otel(): RequestObserver {
  const meter = new MeterProvider({ readers: [new Reader()] }).getMeter('bench');
  const { requests, requestBytes: inBytes, responseBytes: outBytes, errors, inflight, duration, responses, cancellations, firstResponse, interResponse } = stockInstruments(meter);
  return {
    requestStarted(bytes) {
      served++;
      requests.add(1, attrs);
      inBytes.add(bytes, attrs);
      inflight.add(1, attrs);
      return performance.now();
    },
    responsePublished(bytes) {
      outBytes.add(bytes, attrs);
    },
    dataPublished(since, first, clock) {
      // Timed as ours is, by the publisher's clock: the variants differ only in their instruments.
      const t = first ? clock.now() : clock.batchTime();
      responses.add(1, attrs);
      (first ? firstResponse : interResponse).record((t - since) / 1000, attrs);
      return t;
    },
    error(type: ErrorType) {
      errors.add(1, { ...attrs, error_type: type });
    },
    cancelled(reason) {
      cancellations.add(1, { ...attrs, reason });
    },
    requestEnded(mark, _sampled, _failed, endMark) {
      inflight.add(-1, attrs);
      duration.record(((endMark ?? performance.now()) - mark) / 1000, attrs);
    },
  };
}

function prom(): RequestObserver {
  const registry = new client.Registry();
  const labelNames = Object.keys(attrs);
  const values = Object.values(attrs);
  const c = (name: string) => new client.Counter({ name, help: name, labelNames, registers: [registry] }).labels(...values);
  const requests = c(EndpointMetric.requests.name);
  const inBytes = c(EndpointMetric.requestBytes.name);
  const outBytes = c(EndpointMetric.responseBytes.name);
  const errors = new client.Counter({ name: EndpointMetric.errors.name, help: 'x', labelNames: [...labelNames, 'error_type'], registers: [registry] });
  const inflight = new client.Gauge({ name: EndpointMetric.inflight.name, help: 'x', labelNames, registers: [registry] }).labels(...values);
  const duration = new client.Histogram({ name: EndpointMetric.duration.name, help: 'x', labelNames, buckets: [...DEFAULT_DURATION_BUCKETS], registers: [registry] }).labels(...values);
  const responses = c(EndpointMetric.responses.name);
  const cancellations = new client.Counter({ name: EndpointMetric.cancellations.name, help: 'x', labelNames: [...labelNames, 'reason'], registers: [registry] });
  const firstResponse = new client.Histogram({ name: EndpointMetric.firstResponse.name, help: 'x', labelNames, buckets: [...DEFAULT_DURATION_BUCKETS], registers: [registry] }).labels(...values);
  const interResponse = new client.Histogram({ name: EndpointMetric.interResponse.name, help: 'x', labelNames, buckets: [...DEFAULT_INTER_RESPONSE_BUCKETS], registers: [registry] }).labels(...values);
  return {
    requestStarted(bytes) {
      served++;
      requests.inc();
      inBytes.inc(bytes);
      inflight.inc();
      return performance.now();
    },
    responsePublished(bytes) {
      outBytes.inc(bytes);
    },
    dataPublished(since, first, clock) {
      // Timed as ours is, by the publisher's clock: the variants differ only in their instruments.
      const t = first ? clock.now() : clock.batchTime();
      responses.inc();
      (first ? firstResponse : interResponse).observe((t - since) / 1000);
      return t;
    },
    error(type: ErrorType) {
      errors.inc({ ...attrs, error_type: type });
    },
    cancelled(reason) {
      cancellations.inc({ ...attrs, reason });
    },
    requestEnded(mark, _sampled, _failed, endMark) {
      inflight.dec();
      duration.observe(((endMark ?? performance.now()) - mark) / 1000);
    },
  };
}

function ours(): RequestObserver {
  const r = new EndpointRecorder(attrs, DEFAULT_DURATION_BUCKETS, createLogger('warn'));
  const started = r.requestStarted.bind(r);
  r.requestStarted = (bytes: number) => {
    served++;
    return started(bytes);
  };
  return r;
}

const nc = await connect({ servers: url, noAsyncTraces: true });
if (variant === 'raw' || variant === 'rawasync') {
  // nats.js alone: the same bytes back (echo), or the same 100 messages and an empty end (stream)
  const piece = new TextEncoder().encode(JSON.stringify(PIECE));
  const empty = new Uint8Array(0);
  async function* pieces(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < 100; i++) yield piece;
  }
  const streamAsync = async (reply: string): Promise<void> => {
    for await (const p of pieces()) nc.publish(reply, p);
    nc.publish(reply, empty);
  };
  nc.subscribe(subject, {
    queue: subject,
    callback: (_err, msg: Msg) => {
      served++;
      if (mode !== 'stream') {
        msg.respond(msg.data);
      } else if (variant === 'rawasync') {
        void streamAsync(msg.reply!);
      } else {
        for (let i = 0; i < 100; i++) nc.publish(msg.reply!, piece);
        nc.publish(msg.reply!, empty);
      }
    },
  });
  await nc.flush();
} else {
  const observer = variant === 'ours' || variant === 'traced' ? ours() : variant === 'otel' ? otel() : variant === 'prom' ? prom() : variant === 'clock' ? new ClockOnly() : new Bare();
  const server = new EndpointServer({
    nc,
    subject,
    instanceId: `bench-${variant}`,
    engine: mode === 'stream' ? () => hundred() : (request: unknown) => request,
    observer,
    // `traced`: the tracing hooks as a runtime wires them, with no SDK registered (the global no-op).
    ...(variant === 'traced' ? { tracer: serverTracer(trace.getTracerProvider(), { namespace: 'bench', component: 'echo', endpoint: 'echo', subject }, 'bench-traced') } : {}),
    endpoint: undefined,
    logger: createLogger('warn'),
  });
  await server.start();
}
const profileFile = process.env['BENCH_CPU_PROFILE'];
const profiler = profileFile === undefined ? undefined : new Session();
if (profiler !== undefined) {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: 50 });
}
/**
 * Clock ticks of CPU (user + system) so far, of the main thread and of all threads — the main
 * thread's task id is the process id — or undefined where /proc is not there. Ticks are coarse
 * (10 ms), so only their ratio is used, applied to `process.cpuUsage()`.
 */
function threadTicks(): { main: number; all: number } | undefined {
  try {
    let main = 0;
    let all = 0;
    for (const task of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses: utime and stime are the 12th and 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      all += ticks;
      if (task === String(process.pid)) main = ticks;
    }
    return { main, all };
  } catch {
    return undefined;
  }
}

let cpu = process.cpuUsage();
let ticks = threadTicks();
let from = 0;
process.on('message', async (m: string) => {
  if (m === 'start') {
    await profiler?.post('Profiler.start');
    cpu = process.cpuUsage();
    ticks = threadTicks();
    from = served;
  } else if (m === 'stop') {
    const d = process.cpuUsage(cpu);
    const now = threadTicks();
    const mainShare = now === undefined || ticks === undefined || now.all === ticks.all ? undefined : (now.main - ticks.main) / (now.all - ticks.all);
    if (profiler !== undefined) writeFileSync(profileFile!, JSON.stringify((await profiler.post('Profiler.stop')).profile));
    process.send!({ cpuUs: d.user + d.system, mainShare, requests: served - from });
  } else if (m === 'exit') {
    void nc.close().then(() => process.exit(0));
  }
});
process.send!({ ready: true });
