/**
 * Target 3: building /metrics for 1,000 endpoints (all automatic series, default buckets), over
 * real HTTP, side by side: ours (status server), the stock @opentelemetry/exporter-prometheus
 * (one meter per endpoint, like ours), prom-client, and a precomputed string of the same size
 * (the HTTP floor). Also the longest the event loop was blocked during a scrape, and 10,000
 * endpoints for linearity.
 *
 * Run: npm run bench:scrape   (BENCH_ENDPOINTS=1000,10000 BENCH_ROUNDS=15)
 */
import { createServer, request, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import client from 'prom-client';
import { DistributedRuntime } from '../src/index.ts';
import { DEFAULT_DURATION_BUCKETS, EndpointMetric, ERROR_TYPES } from '../src/metrics/names.ts';
import { printTable, stats, stockInstruments, timed, type Row } from './common.ts';

const SIZES = (process.env['BENCH_ENDPOINTS'] ?? '1000,10000').split(',').map(Number);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 15);
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

interface Target {
  name: string;
  url: string;
  /** Builds the exposition in-process, as a scrape would (ours: chunk by chunk, as the status server writes them). */
  build(): Promise<unknown>;
  text(): Promise<string>;
  close(): Promise<void>;
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    })
      .on('error', reject)
      .end();
  });
}

const names = (i: number) => ({ ns: `ns${i % 10}`, comp: `comp${Math.floor(i / 10) % 100}`, ep: `ep${i}` });
const attrsOf = (i: number) => {
  const n = names(i);
  return { dynamo_namespace: n.ns, dynamo_component: n.comp, dynamo_endpoint: n.ep };
};

async function ours(n: number): Promise<Target> {
  const rt = await DistributedRuntime.create({ env: {}, nats: false, handleSignals: false, system: { enabled: true, port: 0, host: '127.0.0.1' } });
  for (let i = 0; i < n; i++) {
    const { ns, comp, ep } = names(i);
    const e = rt.namespace(ns).component(comp).endpoint(ep);
    e.setServing(true);
    for (let k = 0; k < 3; k++) e.recorder.requestEnded(e.recorder.requestStarted(100 + k));
  }
  // Built as the status server builds it: chunk by chunk, each written out as it comes.
  const build = async (): Promise<number> => {
    let bytes = 0;
    for await (const chunk of rt.prometheusReader.scrapeChunks()) bytes += chunk.length;
    return bytes;
  };
  return { name: 'ours', url: `http://127.0.0.1:${rt.systemPort}/metrics`, build, text: () => rt.metricsText(), close: () => rt.shutdown() };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function stock(n: number): Promise<Target> {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [exporter] });
  for (let i = 0; i < n; i++) {
    const a = attrsOf(i);
    const meter = provider.getMeter(`dynamo/${a.dynamo_namespace}/${a.dynamo_component}/${a.dynamo_endpoint}`);
    const { requests, requestBytes: inBytes, responseBytes: outBytes, errors, inflight, duration } = stockInstruments(meter);
    for (let k = 0; k < 3; k++) {
      requests.add(1, a);
      inBytes.add(100 + k, a);
      outBytes.add(0, a);
      inflight.add(0, a);
      duration.record(0.001, a);
    }
    for (const t of ERROR_TYPES) errors.add(0, { ...a, error_type: t });
  }
  const server = createServer((req, res) => exporter.getMetricsRequestHandler(req, res));
  const port = await listen(server);
  const serializer = new PrometheusSerializer();
  return {
    name: 'stock OTel exporter-prometheus',
    url: `http://127.0.0.1:${port}/metrics`,
    build: async () => serializer.serialize((await exporter.collect()).resourceMetrics),
    text: async () => serializer.serialize((await exporter.collect()).resourceMetrics),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await provider.shutdown();
    },
  };
}

async function prom(n: number): Promise<Target> {
  const registry = new client.Registry();
  const labelNames = ['dynamo_namespace', 'dynamo_component', 'dynamo_endpoint'];
  const requests = new client.Counter({ name: EndpointMetric.requests.name, help: EndpointMetric.requests.help, labelNames, registers: [registry] });
  const inBytes = new client.Counter({ name: EndpointMetric.requestBytes.name, help: EndpointMetric.requestBytes.help, labelNames, registers: [registry] });
  const outBytes = new client.Counter({ name: EndpointMetric.responseBytes.name, help: EndpointMetric.responseBytes.help, labelNames, registers: [registry] });
  const errors = new client.Counter({ name: EndpointMetric.errors.name, help: EndpointMetric.errors.help, labelNames: [...labelNames, 'error_type'], registers: [registry] });
  const inflight = new client.Gauge({ name: EndpointMetric.inflight.name, help: EndpointMetric.inflight.help, labelNames, registers: [registry] });
  const duration = new client.Histogram({ name: EndpointMetric.duration.name, help: EndpointMetric.duration.help, labelNames, buckets: [...DEFAULT_DURATION_BUCKETS], registers: [registry] });
  for (let i = 0; i < n; i++) {
    const a = attrsOf(i);
    for (let k = 0; k < 3; k++) {
      requests.inc(a);
      inBytes.inc(a, 100 + k);
      outBytes.inc(a, 0);
      duration.observe(a, 0.001);
    }
    inflight.set(a, 0);
    for (const t of ERROR_TYPES) errors.inc({ ...a, error_type: t }, 0);
  }
  const server = createServer((_req, res) => {
    registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
  });
  const port = await listen(server);
  return {
    name: 'prom-client',
    url: `http://127.0.0.1:${port}/metrics`,
    build: () => registry.metrics(),
    text: () => registry.metrics(),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

async function bare(text: string): Promise<Target> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(text));
  const port = await listen(server);
  return {
    name: 'bare (precomputed string)',
    url: `http://127.0.0.1:${port}/metrics`,
    build: async () => text,
    text: async () => text,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}


async function measure(target: Target): Promise<{ build: Row; http: Row; text: string }> {
  for (let i = 0; i < 3; i++) {
    await target.build(); // warm-up
    await get(target.url);
  }
  const build: number[] = [];
  const blocked: number[] = [];
  const http: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const b = await timed(() => target.build());
    build.push(b.ms);
    blocked.push(b.blockedMs);
    http.push((await timed(() => get(target.url))).ms);
  }
  const text = await target.text();
  const size = `${(Buffer.byteLength(text) / 1e6).toFixed(2)} MB · ${text.split('\n').length.toLocaleString()} lines`;
  return {
    build: { name: target.name, stats: stats(build), extra: `longest event-loop block ${stats(blocked).max.toFixed(1)} ms (median ${stats(blocked).median.toFixed(1)}) · ${size}` },
    http: { name: target.name, stats: stats(http) },
    text,
  };
}

for (const n of SIZES) {
  const builds: Row[] = [];
  const https: Row[] = [];
  let sample = '';
  for (const make of [ours, stock, prom]) {
    const target = await make(n);
    const m = await measure(target);
    builds.push(m.build);
    https.push(m.http);
    if (make === ours) sample = m.text;
    await target.close();
  }
  const b = await bare(sample);
  const m = await measure(b);
  https.push(m.http);
  await b.close();
  printTable(`Scrape, built in-process: /metrics for ${n.toLocaleString()} endpoints (all automatic series, default buckets), ${ROUNDS} rounds`, 'ms', builds, 'ours');
  printTable(`Scrape over HTTP (GET /metrics, loopback, client in the same process): ${n.toLocaleString()} endpoints`, 'ms', https, 'ours');
}
agent.destroy();
