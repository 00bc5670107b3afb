/**
 * Exemplars end to end: a real Prometheus 2.42 started with `--enable-feature=exemplar-storage`
 * scrapes OpenMetrics from the status server and serves, on `/api/v1/query_exemplars`, the trace
 * of a request this test made, on the bucket its duration belongs to — and on its time to first
 * response's. Without the flag the same scrape is still `up == 1`.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { DistributedRuntime, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, type Endpoint } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { startPrometheus, type PrometheusServer } from '../helpers/tools.ts';
import { inMemoryTracing, installTraceGlobals } from '../helpers/tracing.ts';
import { waitFor } from '../helpers/wait.ts';

installTraceGlobals();

interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: Array<{ labels: Record<string, string>; value: string; timestamp: number }>;
}

async function queryExemplars(prom: PrometheusServer, query: string): Promise<ExemplarSeries[]> {
  const now = Date.now() / 1000;
  const res = await fetch(`${prom.url}/api/v1/query_exemplars?query=${encodeURIComponent(query)}&start=${now - 600}&end=${now + 60}`);
  const body = (await res.json()) as { status: string; data: ExemplarSeries[] };
  if (body.status !== 'success') throw new Error(`query_exemplars failed: ${JSON.stringify(body)}`);
  return body.data;
}

describe('exemplars scraped by a real Prometheus', () => {
  let nats: NatsServer;
  let rt: DistributedRuntime;
  let endpoint: Endpoint;
  const tracing = inMemoryTracing();

  before(async () => {
    nats = await startNatsServer();
    rt = await DistributedRuntime.create({
      env: { NATS_SERVER: nats.url, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' },
      logSink: () => {},
      handleSignals: false,
      tracerProvider: tracing.provider,
    });
    endpoint = rt.namespace('ex_ns').component('ex_comp').endpoint('ex_ep');
    await endpoint.serve((req: string) => req);
  });

  after(async () => {
    await rt.shutdown();
    await nats.stop();
  });

  it('links the duration and time-to-first-response buckets of a sampled request to its trace', async () => {
    const client = await endpoint.client();
    await client.waitForInstances();
    assert.deepEqual(await client.generate('traced').collect(), ['traced']);
    await client.close();
    const server = await waitFor(() => tracing.spans().find((s) => s.kind === SpanKind.SERVER), { what: 'the server span' });
    // One request: its duration is the histogram's whole sum, exactly the exemplar's value.
    const duration = endpoint.recorder.durationSum;
    const bounds = Array.from(endpoint.recorder.bounds);
    const bucket = bounds.find((b) => duration <= b);
    const le = bucket === undefined ? '+Inf' : String(bucket);

    // What Prometheus will be sent: OpenMetrics with the exemplar on that bucket's line.
    const scraped = await fetch(`http://127.0.0.1:${rt.systemPort}/metrics`, { headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' } });
    assert.equal(scraped.headers.get('content-type'), OPENMETRICS_CONTENT_TYPE);
    const text = await scraped.text();
    assert.ok(text.endsWith('# EOF\n'));
    const exemplarLine = (family: string): string | undefined => text.split('\n').find((l) => l.startsWith(`${family}_bucket{`) && l.includes(`le="${le}"`));
    const exemplar = new RegExp(`} 1 # \\{trace_id="${server.spanContext().traceId}",span_id="${server.spanContext().spanId}"\\} ${String(duration).replace('.', '\\.')} \\d+\\.\\d{3}$`);
    assert.match(exemplarLine('dynamo_component_request_duration_seconds') ?? '', exemplar);
    // A one-value answer: its first response is its end, one clock reading — the same value, bucket and trace.
    assert.equal(endpoint.recorder.firstResponse.sum, duration);
    assert.match(exemplarLine('dynamo_component_time_to_first_response_seconds') ?? '', exemplar);
    // Only those two histograms keep exemplars.
    assert.equal(text.split('\n').filter((l) => l.includes(' # {trace_id=')).length, 2);

    const prom = await startPrometheus(`127.0.0.1:${rt.systemPort}`, ['--enable-feature=exemplar-storage']);
    try {
      const series = await waitFor(
        async () => (await queryExemplars(prom, 'dynamo_component_request_duration_seconds_bucket{dynamo_endpoint="ex_ep"}')).filter((s) => s.exemplars.length > 0),
        { what: 'an exemplar stored by Prometheus', timeoutMs: 30_000, until: (found) => found.length > 0 },
      );
      assert.equal(series.length, 1);
      const [stored] = series;
      assert.equal(stored!.seriesLabels['le'], le);
      assert.equal(stored!.seriesLabels['dynamo_namespace'], 'ex_ns');
      assert.deepEqual(stored!.exemplars[0]!.labels, { trace_id: server.spanContext().traceId, span_id: server.spanContext().spanId });
      assert.equal(Number(stored!.exemplars[0]!.value), duration);
      const ttfr = (await queryExemplars(prom, 'dynamo_component_time_to_first_response_seconds_bucket{dynamo_endpoint="ex_ep"}')).filter((s) => s.exemplars.length > 0);
      assert.deepEqual(ttfr.map((s) => [s.seriesLabels['le'], s.exemplars[0]!.labels, Number(s.exemplars[0]!.value)]), [[le, { trace_id: server.spanContext().traceId, span_id: server.spanContext().spanId }, duration]]);
      assert.deepEqual((await prom.query('up{job="dynamo"}')).map((r) => r.value[1]), ['1']);
    } finally {
      await prom.stop();
    }
  });

  it('is still up == 1 for a Prometheus without the exemplar feature', async () => {
    const prom = await startPrometheus(`127.0.0.1:${rt.systemPort}`);
    try {
      await waitFor(async () => (await prom.query('up{job="dynamo"}'))[0]?.value[1] === '1', { what: 'up == 1', timeoutMs: 30_000 });
      await waitFor(async () => (await prom.query('dynamo_component_requests_total{dynamo_endpoint="ex_ep"}'))[0]?.value[1] === '1', { what: 'requests_total == 1', timeoutMs: 30_000 });
    } finally {
      await prom.stop();
    }
  });

  it('is still up == 1 for a Prometheus scraping the plain text (its Accept header rewritten to text/plain)', async () => {
    // Prometheus 2.42 always offers OpenMetrics first; a proxy in between asks for text 0.0.4 only.
    const seen: Array<string | undefined> = [];
    const proxy: Server = createServer((req, res) => {
      const upstream = request(
        { host: '127.0.0.1', port: rt.systemPort, path: req.url, method: req.method, headers: { ...req.headers, accept: 'text/plain;version=0.0.4' } },
        (answer) => {
          seen.push(answer.headers['content-type']);
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const prom = await startPrometheus(`127.0.0.1:${(proxy.address() as AddressInfo).port}`, ['--enable-feature=exemplar-storage']);
    try {
      await waitFor(async () => (await prom.query('up{job="dynamo"}'))[0]?.value[1] === '1', { what: 'up == 1', timeoutMs: 30_000 });
      await waitFor(async () => (await prom.query('dynamo_component_requests_total{dynamo_endpoint="ex_ep"}'))[0]?.value[1] === '1', { what: 'requests_total == 1', timeoutMs: 30_000 });
      assert.ok(seen.length > 0 && seen.every((type) => type === PROMETHEUS_CONTENT_TYPE), JSON.stringify(seen));
    } finally {
      await prom.stop();
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
