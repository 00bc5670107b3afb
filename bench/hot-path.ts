/**
 * Target 1: the automatic metrics in-process, ns per unit of work, side by side in one run:
 * ours (plain-number recorders), the stock OpenTelemetry sync instruments doing the same updates
 * with the same three attributes, prom-client with pre-bound label children, and no
 * instrumentation. Three workloads:
 *   - server, per request: requests, bytes in, in-flight up and down, its one response (a
 *     `last` message: a response, its time to first response, its bytes) and the duration, which
 *     ends when that message is published (one clock read serves both, in every variant);
 *   - server, per extra response message of a stream: a response, its gap, its bytes;
 *   - caller, per request: requests, in-flight, bytes out, its one response (a `last` message:
 *     time to first response, bytes) and the duration, which ends when that message arrives.
 *
 * Run: npm run bench:hot-path
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import client from 'prom-client';
import { createLogger } from '../src/logging/logger.ts';
import { ClientMetric } from '../src/metrics/client-names.ts';
import { ClientRecorder } from '../src/metrics/client-recorder.ts';
import { EndpointRecorder, UNBATCHED_CLOCK, type PublishClock } from '../src/metrics/endpoint-recorder.ts';
import { DEFAULT_DURATION_BUCKETS, DEFAULT_INTER_RESPONSE_BUCKETS, EndpointMetric } from '../src/metrics/names.ts';
import { PrometheusReader } from '../src/metrics/prometheus-reader.ts';
import { printTable, stats, stockInstruments, type Row } from './common.ts';

const N = Number(process.env['BENCH_N'] ?? 1_000_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 9);
const attrs = { dynamo_namespace: 'example_namespace', dynamo_component: 'example_component', dynamo_endpoint: 'example_endpoint' };
const REQ = 100;
const RESP = 200;

type Variant = { name: string; run: (n: number) => void };

function ours(): Variant {
  const r = new EndpointRecorder(attrs, DEFAULT_DURATION_BUCKETS, createLogger('warn', () => {}));
  return {
    name: 'ours (EndpointRecorder)',
    run(n) {
      for (let i = 0; i < n; i++) {
        const mark = r.requestStarted(REQ);
        const end = r.dataPublished(mark, true, UNBATCHED_CLOCK);
        r.responsePublished(RESP);
        r.requestEnded(mark, undefined, undefined, end);
      }
    },
  };
}

/**
 * A stream's further messages. `batch`: how many share one clock reading — 1, a read per message
 * like the other variants; 128, as the request plane times a stream that yields faster than the
 * network (the messages of one turn leave together, at one time: turn-outbox.ts).
 */
function oursMessage(batch: number): Variant {
  const r = new EndpointRecorder(attrs, DEFAULT_DURATION_BUCKETS, createLogger('warn', () => {}));
  let calls = 0;
  let reading = 0;
  const clock: PublishClock = batch === 1 ? UNBATCHED_CLOCK : { now: () => (reading = performance.now()), batchTime: () => (calls++ % batch === 0 ? clock.now() : reading) };
  return {
    name: batch === 1 ? 'ours (EndpointRecorder)' : `ours, ${batch} messages per clock read (a turn's batch)`,
    run(n) {
      let last = r.requestStarted(REQ);
      for (let i = 0; i < n; i++) {
        last = r.dataPublished(last, false, clock);
        r.responsePublished(RESP);
      }
    },
  };
}

function oursClient(): Variant {
  const r = new ClientRecorder(attrs, DEFAULT_DURATION_BUCKETS, createLogger('warn', () => {}));
  return {
    name: 'ours (ClientRecorder)',
    run(n) {
      for (let i = 0; i < n; i++) {
        const mark = r.requestStarted();
        r.requestSent(REQ);
        const end = r.responseReceived(RESP, true, mark);
        r.requestEnded(mark, undefined, end);
      }
    },
  };
}

function otel(): Variant {
  const provider = new MeterProvider({ readers: [new PrometheusReader()] });
  const meter = provider.getMeter('bench');
  const { requests, requestBytes: inBytes, responseBytes: outBytes, inflight, duration, responses, firstResponse } = stockInstruments(meter);
  return {
    name: 'stock OTel sync instruments',
    run(n) {
      for (let i = 0; i < n; i++) {
        const start = performance.now();
        requests.add(1, attrs);
        inBytes.add(REQ, attrs);
        inflight.add(1, attrs);
        responses.add(1, attrs);
        const seconds = (performance.now() - start) / 1000;
        firstResponse.record(seconds, attrs);
        outBytes.add(RESP, attrs);
        inflight.add(-1, attrs);
        duration.record(seconds, attrs);
      }
    },
  };
}

function otelMessage(): Variant {
  const meter = new MeterProvider({ readers: [new PrometheusReader()] }).getMeter('bench');
  const { responseBytes: outBytes, responses, interResponse } = stockInstruments(meter);
  return {
    name: 'stock OTel sync instruments',
    run(n) {
      let last = performance.now();
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        responses.add(1, attrs);
        interResponse.record((t - last) / 1000, attrs);
        outBytes.add(RESP, attrs);
        last = t;
      }
    },
  };
}

function otelClient(): Variant {
  const meter = new MeterProvider({ readers: [new PrometheusReader()] }).getMeter('bench');
  const opts = (spec: { help: string; unit: string }) => ({ description: spec.help, unit: spec.unit });
  const requests = meter.createCounter(ClientMetric.requests.name, opts(ClientMetric.requests));
  const inflight = meter.createUpDownCounter(ClientMetric.inflight.name, opts(ClientMetric.inflight));
  const outBytes = meter.createCounter(ClientMetric.requestBytes.name, opts(ClientMetric.requestBytes));
  const inBytes = meter.createCounter(ClientMetric.responseBytes.name, opts(ClientMetric.responseBytes));
  const buckets = { advice: { explicitBucketBoundaries: [...DEFAULT_DURATION_BUCKETS] } };
  const ttfr = meter.createHistogram(ClientMetric.firstResponse.name, { ...opts(ClientMetric.firstResponse), ...buckets });
  const duration = meter.createHistogram(ClientMetric.duration.name, { ...opts(ClientMetric.duration), ...buckets });
  return {
    name: 'stock OTel sync instruments',
    run(n) {
      for (let i = 0; i < n; i++) {
        const start = performance.now();
        requests.add(1, attrs);
        inflight.add(1, attrs);
        outBytes.add(REQ, attrs);
        inBytes.add(RESP, attrs);
        const seconds = (performance.now() - start) / 1000;
        ttfr.record(seconds, attrs);
        inflight.add(-1, attrs);
        duration.record(seconds, attrs);
      }
    },
  };
}

function prom(): Variant {
  const registry = new client.Registry();
  const labelNames = Object.keys(attrs);
  const values = Object.values(attrs);
  const mk = (name: string) => new client.Counter({ name, help: name, labelNames, registers: [registry] }).labels(...values);
  const requests = mk(EndpointMetric.requests.name);
  const inBytes = mk(EndpointMetric.requestBytes.name);
  const outBytes = mk(EndpointMetric.responseBytes.name);
  const inflight = new client.Gauge({ name: EndpointMetric.inflight.name, help: 'x', labelNames, registers: [registry] }).labels(...values);
  const duration = new client.Histogram({ name: EndpointMetric.duration.name, help: 'x', labelNames, buckets: [...DEFAULT_DURATION_BUCKETS], registers: [registry] }).labels(...values);
  const responses = mk(EndpointMetric.responses.name);
  const firstResponse = new client.Histogram({ name: EndpointMetric.firstResponse.name, help: 'x', labelNames, buckets: [...DEFAULT_DURATION_BUCKETS], registers: [registry] }).labels(...values);
  new client.Histogram({ name: EndpointMetric.interResponse.name, help: 'x', labelNames, buckets: [...DEFAULT_INTER_RESPONSE_BUCKETS], registers: [registry] });
  return {
    name: 'prom-client (bound children)',
    run(n) {
      for (let i = 0; i < n; i++) {
        const start = performance.now();
        requests.inc();
        inBytes.inc(REQ);
        inflight.inc();
        responses.inc();
        const seconds = (performance.now() - start) / 1000;
        firstResponse.observe(seconds);
        outBytes.inc(RESP);
        inflight.dec();
        duration.observe(seconds);
      }
    },
  };
}

function bare(): Variant {
  let sink = 0;
  return {
    name: 'no instrumentation',
    run(n) {
      for (let i = 0; i < n; i++) sink += REQ + RESP;
      if (sink === -1) console.log(sink);
    },
  };
}

/** `reads` clock reads and nothing else: the floor under any variant that times what it records. */
function clock(reads: 1 | 2): Variant {
  let sink = 0;
  return {
    name: `${reads} clock read${reads === 1 ? '' : 's'} alone (the floor)`,
    run(n) {
      for (let i = 0; i < n; i++) {
        sink += performance.now();
        if (reads === 2) sink += performance.now();
      }
      if (sink === -1) console.log(sink);
    },
  };
}

/** Counts garbage collections during `fn`: zero over a million requests means no per-request allocation. */
async function gcCount(fn: () => void): Promise<number> {
  let count = 0;
  const obs = new PerformanceObserver((list) => (count += list.getEntries().length));
  obs.observe({ entryTypes: ['gc'] });
  fn();
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return count;
}

/** Every variant of a workload, round by round (interleaved): load from elsewhere falls on all alike. */
async function measure(variants: Variant[]): Promise<Row[]> {
  for (const v of variants) v.run(Math.min(N, 200_000)); // warm-up: let the JIT settle
  const samples = variants.map((): number[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    variants.forEach((v, i) => {
      const t0 = process.hrtime.bigint();
      v.run(N);
      samples[i]!.push(Number(process.hrtime.bigint() - t0) / N);
    });
  }
  const rows: Row[] = [];
  for (const [i, v] of variants.entries()) {
    const gcs = await gcCount(() => v.run(N));
    rows.push({ name: v.name, stats: stats(samples[i]!), extra: `${gcs} GCs per ${N.toLocaleString()}` });
  }
  return rows;
}

const server: Row[] = [];
const message: Row[] = [];
const caller: Row[] = [];
const workloads: Array<[Row[], Variant[]]> = [
  [server, [ours(), otel(), prom(), clock(2), bare()]],
  [message, [oursMessage(1), oursMessage(128), otelMessage(), clock(1), bare()]],
  [caller, [oursClient(), otelClient(), clock(2), bare()]],
];
for (const [rows, variants] of workloads) rows.push(...(await measure(variants)));
printTable(`Server, per request: one request's automatic metrics (one response, in one message), ${N.toLocaleString()} requests × ${ROUNDS} rounds`, 'ns/req', server, 'ours (EndpointRecorder)');
printTable(`Server, per extra response message of a stream, ${N.toLocaleString()} messages × ${ROUNDS} rounds`, 'ns/msg', message, 'ours (EndpointRecorder)');
printTable(`Caller, per request: one request's caller-side metrics (one response, in one message), ${N.toLocaleString()} requests × ${ROUNDS} rounds`, 'ns/req', caller, 'ours (ClientRecorder)');
const [o, s, p, c2s] = server.map((r) => r.stats.median) as [number, number, number, number];
const [om, sm, c1] = message.map((r) => r.stats.median) as [number, number, number];
const [oc, sc, c2] = caller.map((r) => r.stats.median) as [number, number, number];
console.log(`\nserver: ${o.toFixed(1)} ns/req (target ≤ 150; two clock reads alone: ${c2s.toFixed(1)}) · stock OTel is ${(s / o).toFixed(1)}× ours (target ≥ 30×) · prom-client is ${(p / o).toFixed(1)}× ours`);
console.log(`per extra message: ${om.toFixed(1)} ns/msg (target ≤ 60; one clock read alone: ${c1.toFixed(1)}) · stock OTel is ${(sm / om).toFixed(1)}× ours`);
console.log(`caller: ${oc.toFixed(1)} ns/req (target ≤ 150; two clock reads alone: ${c2.toFixed(1)}) · stock OTel is ${(sc / oc).toFixed(1)}× ours`);
