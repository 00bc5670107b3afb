/**
 * Target 4: heap per endpoint with all automatic series, measured at 10,000 endpoints, side by
 * side: ours (endpoints serving, after one scrape so every cache is filled), the stock OTel SDK
 * (one meter per endpoint, six instruments with the same series), prom-client (the same series in
 * six metrics), and bare (the endpoint names alone). Each variant runs in its own process.
 *
 * Run: npm run bench:memory   (BENCH_ENDPOINTS=10000 BENCH_ROUNDS=3)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { printTable, stats, type Row } from './common.ts';

const N = Number(process.env['BENCH_ENDPOINTS'] ?? 10_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const VARIANTS = ['ours', 'stock OTel SDK', 'prom-client', 'bare (names only)'] as const;
type Variant = (typeof VARIANTS)[number];

const names = (i: number) => ({ dynamo_namespace: `ns${i % 10}`, dynamo_component: `comp${Math.floor(i / 10) % 100}`, dynamo_endpoint: `ep${i}` });

async function build(variant: Variant): Promise<unknown> {
  const { DEFAULT_DURATION_BUCKETS, EndpointMetric, ERROR_TYPES } = await import('../src/metrics/names.ts');
  switch (variant) {
    case 'ours': {
      const { DistributedRuntime } = await import('../src/index.ts');
      const rt = new DistributedRuntime({ env: {}, nats: false, handleSignals: false });
      for (let i = 0; i < N; i++) {
        const a = names(i);
        const ep = rt.namespace(a.dynamo_namespace).component(a.dynamo_component).endpoint(a.dynamo_endpoint);
        ep.setServing(true);
        ep.recorder.requestEnded(ep.recorder.requestStarted(100));
      }
      await rt.metricsText(); // fills the label caches
      return rt;
    }
    case 'stock OTel SDK': {
      const { MeterProvider, MetricReader } = await import('@opentelemetry/sdk-metrics');
      class Reader extends MetricReader {
        protected override async onForceFlush(): Promise<void> {}
        protected override async onShutdown(): Promise<void> {}
      }
      const reader = new Reader();
      const provider = new MeterProvider({ readers: [reader] });
      for (let i = 0; i < N; i++) {
        const a = names(i);
        const meter = provider.getMeter(`dynamo/${a.dynamo_namespace}/${a.dynamo_component}/${a.dynamo_endpoint}`);
        meter.createCounter(EndpointMetric.requests.name).add(1, a);
        meter.createCounter(EndpointMetric.requestBytes.name).add(100, a);
        meter.createCounter(EndpointMetric.responseBytes.name).add(0, a);
        const errors = meter.createCounter(EndpointMetric.errors.name);
        for (const t of ERROR_TYPES) errors.add(0, { ...a, error_type: t });
        meter.createUpDownCounter(EndpointMetric.inflight.name).add(0, a);
        meter.createHistogram(EndpointMetric.duration.name, { advice: { explicitBucketBoundaries: [...DEFAULT_DURATION_BUCKETS] } }).record(0.001, a);
      }
      await reader.collect();
      return provider;
    }
    case 'prom-client': {
      const client = (await import('prom-client')).default;
      const registry = new client.Registry();
      const labelNames = ['dynamo_namespace', 'dynamo_component', 'dynamo_endpoint'];
      const c = (name: string, extra: string[] = []) => new client.Counter({ name, help: name, labelNames: [...labelNames, ...extra], registers: [registry] });
      const requests = c(EndpointMetric.requests.name);
      const inBytes = c(EndpointMetric.requestBytes.name);
      const outBytes = c(EndpointMetric.responseBytes.name);
      const errors = c(EndpointMetric.errors.name, ['error_type']);
      const inflight = new client.Gauge({ name: EndpointMetric.inflight.name, help: 'x', labelNames, registers: [registry] });
      const duration = new client.Histogram({ name: EndpointMetric.duration.name, help: 'x', labelNames, buckets: [...DEFAULT_DURATION_BUCKETS], registers: [registry] });
      for (let i = 0; i < N; i++) {
        const a = names(i);
        requests.inc(a);
        inBytes.inc(a, 100);
        outBytes.inc(a, 0);
        for (const t of ERROR_TYPES) errors.inc({ ...a, error_type: t }, 0);
        inflight.set(a, 0);
        duration.observe(a, 0.001);
      }
      await registry.metrics();
      return registry;
    }
    default:
      return Array.from({ length: N }, (_, i) => names(i));
  }
}

const child = process.argv[2] as Variant | undefined;
if (child !== undefined) {
  const gc = (globalThis as { gc?: () => void }).gc!;
  await import('../src/metrics/names.ts');
  await import('../src/index.ts');
  await import('@opentelemetry/sdk-metrics');
  await import('prom-client');
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = await build(child);
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  // `kept` is printed so the structures stay reachable until `after` was measured.
  process.stdout.write(JSON.stringify({ perEndpoint: (after - before) / N, kept: kept !== undefined }));
} else {
  const rows: Row[] = [];
  const self = fileURLToPath(import.meta.url);
  for (const variant of VARIANTS) {
    const samples: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const out = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, variant], { encoding: 'utf8', env: { ...process.env, BENCH_ENDPOINTS: String(N) } });
      if (out.status !== 0) throw new Error(out.stderr);
      samples.push((JSON.parse(out.stdout) as { perEndpoint: number }).perEndpoint / 1024);
    }
    rows.push({ name: variant, stats: stats(samples) });
  }
  printTable(`Memory: heap per endpoint with all automatic series, ${N.toLocaleString()} endpoints, ${ROUNDS} processes each`, 'KB/endpoint', rows, 'ours');
  console.log(`\nours: ${rows[0]!.stats.median.toFixed(2)} KB per endpoint (target ≤ 10 KB)`);
}
