/**
 * Target 1: the automatic metrics of one request — requests, bytes in, bytes out, in-flight up
 * and down, duration into the histogram — in-process, ns per request, side by side in one run:
 * ours (EndpointRecorder), the stock OpenTelemetry sync instruments with the same three
 * attributes, prom-client with pre-bound label children, and no instrumentation.
 *
 * Run: npm run bench:hot-path
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import client from 'prom-client';
import { createLogger } from '../src/logging/logger.ts';
import { EndpointRecorder } from '../src/metrics/endpoint-recorder.ts';
import { DEFAULT_DURATION_BUCKETS, EndpointMetric } from '../src/metrics/names.ts';
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
        r.responsePublished(RESP);
        r.requestEnded(mark);
      }
    },
  };
}

function otel(): Variant {
  const provider = new MeterProvider({ readers: [new PrometheusReader()] });
  const meter = provider.getMeter('bench');
  const { requests, requestBytes: inBytes, responseBytes: outBytes, inflight, duration } = stockInstruments(meter);
  return {
    name: 'stock OTel sync instruments',
    run(n) {
      for (let i = 0; i < n; i++) {
        const start = performance.now();
        requests.add(1, attrs);
        inBytes.add(REQ, attrs);
        inflight.add(1, attrs);
        outBytes.add(RESP, attrs);
        inflight.add(-1, attrs);
        duration.record((performance.now() - start) / 1000, attrs);
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
  return {
    name: 'prom-client (bound children)',
    run(n) {
      for (let i = 0; i < n; i++) {
        const start = performance.now();
        requests.inc();
        inBytes.inc(REQ);
        inflight.inc();
        outBytes.inc(RESP);
        inflight.dec();
        duration.observe((performance.now() - start) / 1000);
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

async function measure(v: Variant): Promise<Row> {
  v.run(Math.min(N, 200_000)); // warm-up: let the JIT settle
  const samples: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = process.hrtime.bigint();
    v.run(N);
    samples.push(Number(process.hrtime.bigint() - t0) / N);
  }
  const gcs = await gcCount(() => v.run(N));
  return { name: v.name, stats: stats(samples), extra: `${gcs} GCs per ${N.toLocaleString()} req` };
}

const rows: Row[] = [];
for (const v of [ours(), otel(), prom(), bare()]) rows.push(await measure(v));
printTable(`Hot path: one request's automatic metrics, ${N.toLocaleString()} requests × ${ROUNDS} rounds`, 'ns/req', rows, 'ours (EndpointRecorder)');
const [o, s, p] = rows.map((r) => r.stats.median) as [number, number, number];
console.log(`\nours: ${o.toFixed(1)} ns/req (target ≤ 150) · stock OTel is ${(s / o).toFixed(1)}× ours (target ≥ 30×) · prom-client is ${(p / o).toFixed(1)}× ours (target ≥ 10×)`);
