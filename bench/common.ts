/** Shared by the benchmarks: machine description, statistics and the comparison table. */
import { cpus, totalmem } from 'node:os';
import type { Meter } from '@opentelemetry/api';
import { DEFAULT_DURATION_BUCKETS, DEFAULT_INTER_RESPONSE_BUCKETS, EndpointMetric } from '../src/metrics/names.ts';

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu.trim()} · ${cpus().length} cores · ${(totalmem() / 2 ** 30).toFixed(0)} GiB · Node ${process.version} · ${process.platform}/${process.arch}`;
}

export interface Stats {
  median: number;
  min: number;
  max: number;
}

export function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)! };
}

export interface Row {
  name: string;
  stats: Stats;
  extra?: string;
}

/** Prints rows with their ratio to `baseline` (the row named so). */
export function printTable(title: string, unit: string, rows: Row[], baseline: string): void {
  const base = rows.find((r) => r.name === baseline)?.stats.median;
  console.log(`\n${title}\n${machine()}\n`);
  const header = ['variant', `median ${unit}`, `min ${unit}`, `max ${unit}`, `vs ${baseline}`, ''];
  const lines = rows.map((r) => [
    r.name,
    fmt(r.stats.median),
    fmt(r.stats.min),
    fmt(r.stats.max),
    base === undefined || base === 0 ? '' : `${(r.stats.median / base).toFixed(2)}×`,
    r.extra ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(row(header));
  console.log(row(widths.map((w) => '-'.repeat(w))));
  for (const l of lines) console.log(row(l));
}

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** How long `work` took (ms) and the longest gap between event-loop turns while it ran (ms). */
export async function timed(work: () => Promise<unknown>): Promise<{ ms: number; blockedMs: number }> {
  let maxGap = 0;
  let last = performance.now();
  let running = true;
  const tick = (): void => {
    const now = performance.now();
    if (now - last > maxGap) maxGap = now - last;
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  running = false;
  return { ms, blockedMs: Math.max(maxGap, performance.now() - last) };
}

/** The automatic endpoint instruments made the stock way, on one meter: the comparison baseline. */
export function stockInstruments(meter: Meter) {
  const opts = (spec: { help: string; unit: string }) => ({ description: spec.help, unit: spec.unit });
  return {
    requests: meter.createCounter(EndpointMetric.requests.name, opts(EndpointMetric.requests)),
    requestBytes: meter.createCounter(EndpointMetric.requestBytes.name, opts(EndpointMetric.requestBytes)),
    responseBytes: meter.createCounter(EndpointMetric.responseBytes.name, opts(EndpointMetric.responseBytes)),
    errors: meter.createCounter(EndpointMetric.errors.name, opts(EndpointMetric.errors)),
    inflight: meter.createUpDownCounter(EndpointMetric.inflight.name, opts(EndpointMetric.inflight)),
    duration: meter.createHistogram(EndpointMetric.duration.name, { ...opts(EndpointMetric.duration), advice: { explicitBucketBoundaries: [...DEFAULT_DURATION_BUCKETS] } }),
    responses: meter.createCounter(EndpointMetric.responses.name, opts(EndpointMetric.responses)),
    cancellations: meter.createCounter(EndpointMetric.cancellations.name, opts(EndpointMetric.cancellations)),
    firstResponse: meter.createHistogram(EndpointMetric.firstResponse.name, { ...opts(EndpointMetric.firstResponse), advice: { explicitBucketBoundaries: [...DEFAULT_DURATION_BUCKETS] } }),
    interResponse: meter.createHistogram(EndpointMetric.interResponse.name, { ...opts(EndpointMetric.interResponse), advice: { explicitBucketBoundaries: [...DEFAULT_INTER_RESPONSE_BUCKETS] } }),
  };
}
