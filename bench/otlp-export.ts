/**
 * Target 5: an OTLP export of 1,000 endpoints must not block the event loop longer than a scrape
 * of them does. Side by side in one run: ours (producer + batched export), the stock OpenTelemetry
 * path (sync instruments, same series, same official http/protobuf exporter), and — as the
 * reference — ours scraping /metrics for the same endpoints. prom-client has no OTLP export.
 *
 * Run: npm run bench:otlp   (BENCH_ENDPOINTS=1000 BENCH_ROUNDS=10)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { DistributedRuntime } from '../src/index.ts';
import { UNBATCHED_CLOCK } from '../src/metrics/endpoint-recorder.ts';
import { ERROR_TYPES } from '../src/metrics/names.ts';
import { printTable, stats, stockInstruments, timed, type Row } from './common.ts';

const N = Number(process.env['BENCH_ENDPOINTS'] ?? 1000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 10);

// A collector stand-in that reads and discards the body.
let received = 0;
const sink = createServer((req, res) => {
  req.on('data', (c: Buffer) => (received += c.length));
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

const names = (i: number) => ({ dynamo_namespace: `ns${i % 10}`, dynamo_component: `comp${Math.floor(i / 10) % 100}`, dynamo_endpoint: `ep${i}` });


async function rounds(name: string, work: () => Promise<unknown>): Promise<Row> {
  for (let i = 0; i < 3; i++) await work();
  const ms: number[] = [];
  const blocked: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = await timed(work);
    ms.push(t.ms);
    blocked.push(t.blockedMs);
  }
  const b = stats(blocked);
  return { name, stats: b, extra: `whole export ${stats(ms).median.toFixed(1)} ms median` };
}

const rows: Row[] = [];

/** A sampled span's ids, as an exemplar keeps them. */
const trace = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };

{
  // Every endpoint traced: both histograms of each carry exemplars, which are added to the official serializer's output.
  const rt = await DistributedRuntime.create({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_METRIC_EXPORT_INTERVAL: '3600000' }, nats: false, handleSignals: false, system: { enabled: false } });
  for (let i = 0; i < N; i++) {
    const a = names(i);
    const ep = rt.namespace(a.dynamo_namespace).component(a.dynamo_component).endpoint(a.dynamo_endpoint);
    ep.setServing(true);
    for (let k = 0; k < 3; k++) {
      const start = ep.recorder.requestStarted(100);
      ep.recorder.dataPublished(start, true, UNBATCHED_CLOCK, trace);
      ep.recorder.requestEnded(start, trace);
    }
  }
  rows.push(await rounds('ours: OTLP export with exemplars (every endpoint traced)', () => rt.forceFlush()));
  await rt.shutdown();
}

{
  const rt = await DistributedRuntime.create({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_METRIC_EXPORT_INTERVAL: '3600000' }, nats: false, handleSignals: false, system: { enabled: false } });
  for (let i = 0; i < N; i++) {
    const a = names(i);
    const ep = rt.namespace(a.dynamo_namespace).component(a.dynamo_component).endpoint(a.dynamo_endpoint);
    ep.setServing(true);
    for (let k = 0; k < 3; k++) ep.recorder.requestEnded(ep.recorder.requestStarted(100));
  }
  rows.push(await rounds('ours: OTLP export (http/protobuf)', () => rt.forceFlush()));
  const scrape = async (): Promise<void> => {
    for await (const chunk of rt.prometheusReader.scrapeChunks()) void chunk;
  };
  rows.push(await rounds('ours: /metrics scrape (reference)', scrape));
  await rt.shutdown();
}

{
  const reader = new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${url}/v1/metrics` }), exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  for (let i = 0; i < N; i++) {
    const a = names(i);
    const meter = provider.getMeter(`dynamo/${a.dynamo_namespace}/${a.dynamo_component}/${a.dynamo_endpoint}`);
    const { requests, requestBytes: inBytes, responseBytes: outBytes, errors, inflight, duration } = stockInstruments(meter);
    for (let k = 0; k < 3; k++) {
      requests.add(1, a);
      inBytes.add(100, a);
      outBytes.add(0, a);
      inflight.add(0, a);
      duration.record(0.001, a);
    }
    for (const t of ERROR_TYPES) errors.add(0, { ...a, error_type: t });
  }
  rows.push(await rounds('stock OTel: OTLP export (http/protobuf)', () => provider.forceFlush()));
  await provider.shutdown();
}

printTable(`OTLP export of ${N.toLocaleString()} endpoints: longest event-loop block, ${ROUNDS} rounds (received ${(received / 1e6).toFixed(1)} MB in all)`, 'ms blocked', rows, 'ours: /metrics scrape (reference)');
console.log('\nprom-client: no OTLP export; bare: nothing to export.');
sink.close();
