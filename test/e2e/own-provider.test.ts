import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { metrics } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, InMemoryMetricExporter, MeterProvider, MetricReader, PeriodicExportingMetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { ClientMetric, DistributedRuntime, DynamoError, ErrorCode, PrometheusReader } from '../../src/index.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { captureLogs } from '../helpers/runtime.ts';
import { promtoolCheck } from '../helpers/tools.ts';

const L = { dynamo_namespace: 'ns', dynamo_component: 'comp', dynamo_endpoint: 'echo' };

/** A pull reader of the user's, standing for any reader they might have. */
class UserReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

function find(all: MetricData[], name: string, attrs: Record<string, string>) {
  const m = all.find((x) => x.descriptor.name === name);
  if (m === undefined) throw new Error(`no ${name}`);
  const pts = (m.dataPoints as Array<{ attributes: Record<string, unknown>; value: unknown }>).filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));
  assert.equal(pts.length, 1, `${name} ${JSON.stringify(attrs)}`);
  return { metric: m, value: pts[0]!.value };
}

describe("the user's own MeterProvider", () => {
  let nats: NatsServer;
  before(async () => {
    nats = await startNatsServer();
  });
  after(() => nats.stop());

  it('endpoint metrics reach their in-memory exporter and our Prometheus reader alike, same values', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const periodic = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const userReader = new UserReader();
    const ours = new PrometheusReader();
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'users-app' }), readers: [periodic, userReader, ours] });
    const server = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' }, meterProvider: provider, prometheusReader: ours, handleSignals: false, logSink: () => {} });
    const clientRt = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
    try {
      assert.equal(server.meterProvider, provider);
      assert.equal(server.prometheusReader, ours);
      const ep = server.namespace('ns').component('comp').endpoint('echo');
      ep.createCounter({ name: 'bytes_processed', description: 'processed' }).add(5);
      await ep.serve(async function* (req: string) {
        if (req === 'boom') throw new Error('boom');
        yield req;
        yield req;
      });
      const client = await clientRt.namespace('ns').component('comp').endpoint('echo').client();
      await client.waitForInstances();
      for (const r of ['a', 'bb', 'ccc']) await client.generate(r).collect();
      await client.generate('boom').collect().catch(() => {});
      await client.close();

      await periodic.forceFlush();
      const exported = exporter.getMetrics().at(-1)!.scopeMetrics.flatMap((s) => s.metrics);
      const collected = (await userReader.collect()).resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
      const text = await ours.scrape();
      const served = await (await fetch(`http://127.0.0.1:${server.systemPort}/metrics`)).text();
      assert.equal(promtoolCheck(text).status, 0, promtoolCheck(text).output);
      const f = parseExposition(text);
      const fServed = parseExposition(served);
      for (const all of [exported, collected]) {
        const req = find(all, 'dynamo_component_requests_total', L);
        assert.equal(req.value, 4);
        assert.equal(req.metric.dataPointType, DataPointType.SUM);
        assert.equal(find(all, 'dynamo_component_request_bytes_total', L).value, sampleValue(f, 'dynamo_component_request_bytes_total', 'dynamo_component_request_bytes_total', L));
        assert.equal(find(all, 'dynamo_component_response_bytes_total', L).value, sampleValue(f, 'dynamo_component_response_bytes_total', 'dynamo_component_response_bytes_total', L));
        assert.equal(find(all, 'dynamo_component_errors_total', { ...L, error_type: 'generate' }).value, 1);
        assert.equal(find(all, 'dynamo_component_inflight_requests', L).value, 0);
        const hist = find(all, 'dynamo_component_request_duration_seconds', L).value as { count: number; buckets: { boundaries: number[] } };
        assert.equal(hist.count, 4);
        assert.equal(hist.buckets.boundaries.length, 17);
        assert.equal(find(all, 'dynamo_component_bytes_processed_total', L).value, 5);
      }
      assert.equal(sampleValue(f, 'dynamo_component_requests_total', 'dynamo_component_requests_total', L), 4);
      assert.equal(sampleValue(f, 'dynamo_component_errors_total', 'dynamo_component_errors_total', { ...L, error_type: 'deserialization' }), 0);
      assert.equal(f.get('target_info')!.samples[0]!.labels['service_name'], 'users-app');
      // the status server serves the same reader
      assert.equal(sampleValue(fServed, 'dynamo_component_requests_total', 'dynamo_component_requests_total', L), 4);
    } finally {
      await clientRt.shutdown();
      await server.shutdown();
      await provider.shutdown();
    }
  });

  it("'global': an error while none is registered; found when registered after the import; /metrics via the user's PrometheusReader", async () => {
    await assert.rejects(
      DistributedRuntime.create({ env: {}, nats: false, meterProvider: 'global', handleSignals: false, logSink: () => {} }),
      (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidOption && /no global MeterProvider is registered/.test(e.message),
    );
    const reader = new PrometheusReader();
    const provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider); // after this package was imported
    try {
      const runtime = await DistributedRuntime.create({
        env: { NATS_SERVER: nats.url, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' },
        meterProvider: 'global',
        prometheusReader: reader,
        handleSignals: false,
        logSink: () => {},
      });
      assert.equal(runtime.meterProvider, metrics.getMeterProvider());
      const ep = runtime.namespace('ns').component('comp').endpoint('echo');
      await ep.serve((req: string) => req);
      const client = await runtime.namespace('ns').component('comp').endpoint('echo').client();
      await client.waitForInstances();
      await client.generate('hi').collect();
      await client.close();
      const f = parseExposition(await (await fetch(`http://127.0.0.1:${runtime.systemPort}/metrics`)).text());
      assert.equal(sampleValue(f, 'dynamo_component_requests_total', 'dynamo_component_requests_total', L), 1);
      assert.equal(sampleValue(f, 'dynamo_component_request_bytes_total', 'dynamo_component_request_bytes_total', L), 4);
      await runtime.shutdown();
    } finally {
      metrics.disable();
      await provider.shutdown();
    }
  });

  it("works with @opentelemetry/sdk-node started after the import ('global')", async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const periodic = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const reader = new PrometheusReader();
    // No tracing: the runtime's request spans would otherwise go to the SDK's default OTLP trace
    // exporter, and its shutdown would fail on the collector this test does not run.
    const sdk = new NodeSDK({ serviceName: 'node-sdk-app', metricReaders: [periodic, reader], instrumentations: [], spanProcessors: [], autoDetectResources: false } as never);
    sdk.start();
    try {
      const runtime = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, meterProvider: 'global', prometheusReader: reader, handleSignals: false, logSink: () => {} });
      const ep = runtime.namespace('ns').component('comp').endpoint('echo');
      await ep.serve((req: string) => req);
      const client = await ep.client();
      await client.waitForInstances();
      for (let i = 0; i < 3; i++) await client.generate('x').collect();
      await client.close();
      await periodic.forceFlush();
      const exported = exporter.getMetrics().at(-1)!.scopeMetrics.flatMap((s) => s.metrics);
      assert.equal(find(exported, 'dynamo_component_requests_total', L).value, 3);
      const f = parseExposition(await runtime.metricsText());
      assert.equal(sampleValue(f, 'dynamo_component_requests_total', 'dynamo_component_requests_total', L), 3);
      assert.equal(f.get('target_info')!.samples[0]!.labels['service_name'], 'node-sdk-app');
      await runtime.shutdown();
    } finally {
      await sdk.shutdown();
      metrics.disable();
    }
  });

  it("/metrics serves our own collection (200, exact values, no error logged) when the provider is the user's and no reader of it was passed", async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const periodic = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ readers: [periodic] });
    const logs = captureLogs();
    const runtime = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' }, meterProvider: provider, handleSignals: false, logSink: logs.sink });
    try {
      const ep = runtime.namespace('ns').component('comp').endpoint('echo');
      const processed = ep.createCounter({ name: 'bytes_processed', description: 'processed', labelNames: ['kind'] });
      await ep.serve((req: string) => {
        processed.add(req.length, { kind: 'text' });
        return req;
      });
      const client = await ep.client();
      await client.waitForInstances();
      for (const r of ['a', 'bb']) await client.generate(r).collect();
      await client.close();
      const res = await fetch(`http://127.0.0.1:${runtime.systemPort}/metrics`);
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.equal(promtoolCheck(text).status, 0, promtoolCheck(text).output);
      const f = parseExposition(text);
      assert.equal(sampleValue(f, 'dynamo_component_requests_total', 'dynamo_component_requests_total', L), 2);
      assert.equal(sampleValue(f, 'dynamo_component_bytes_processed_total', 'dynamo_component_bytes_processed_total', { ...L, kind: 'text' }), 3);
      // …and the user's exporter has the same numbers, through their provider.
      await periodic.forceFlush();
      const exported = exporter.getMetrics().at(-1)!.scopeMetrics.flatMap((s) => s.metrics);
      assert.equal(find(exported, 'dynamo_component_requests_total', L).value, 2);
      assert.equal(find(exported, 'dynamo_component_bytes_processed_total', { ...L, kind: 'text' }).value, 3);
      assert.deepEqual(logs.lines.filter((l) => l['level'] === 'error' || l['level'] === 'warn'), []);
    } finally {
      await runtime.shutdown();
      await provider.shutdown();
    }
    assert.throws(() => new DistributedRuntime({ env: {}, nats: false, prometheusReader: new PrometheusReader() }), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidOption);
  });

  it("runtime.metricProducer feeds the user's periodic reader: exact values, one ScopeMetrics per endpoint, none of our series after shutdown", async () => {
    const runtime = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const periodic = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000, metricProducers: [runtime.metricProducer] });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'users-app' }), readers: [periodic] });
    provider.getMeter('users-lib').createCounter('users_jobs_total').add(7);
    try {
      const ep = runtime.namespace('ns').component('comp').endpoint('echo');
      const processed = ep.createCounter({ name: 'bytes_processed', description: 'processed' });
      await ep.serve((req: string) => {
        processed.add(req.length);
        return req;
      });
      const client = await ep.client();
      await client.waitForInstances();
      for (const r of ['a', 'bb', 'ccc']) await client.generate(r).collect();
      await client.close();
      await periodic.forceFlush();
      const scopes = exporter.getMetrics().at(-1)!.scopeMetrics;
      const ours = scopes.filter((s) => s.scope.name === 'dynamo/ns/comp/echo');
      assert.equal(ours.length, 1, 'automatic and custom metrics of one endpoint share one ScopeMetrics');
      const names = ours[0]!.metrics.map((m) => m.descriptor.name).sort();
      assert.deepEqual(names, [
        'dynamo_component_bytes_processed_total',
        'dynamo_component_cancellation_total',
        'dynamo_component_concurrency_limit',
        'dynamo_component_errors_total',
        'dynamo_component_inflight_requests',
        'dynamo_component_inter_response_seconds',
        'dynamo_component_rejected_requests_total',
        'dynamo_component_request_bytes_total',
        'dynamo_component_request_duration_seconds',
        'dynamo_component_requests_total',
        'dynamo_component_response_bytes_total',
        'dynamo_component_responses_total',
        'dynamo_component_time_to_first_response_seconds',
      ]);
      // The caller's view of the endpoint (its client lives in this runtime too) has its own scope.
      const callers = scopes.filter((s) => s.scope.name === 'dynamo/ns/comp/echo/client');
      assert.deepEqual(callers[0]!.metrics.map((m) => m.descriptor.name).sort(), Object.values(ClientMetric).map((m) => m.name).sort());
      const all = scopes.flatMap((s) => s.metrics);
      assert.equal(find(all, 'dynamo_client_requests_total', L).value, 3);
      assert.equal(find(all, 'dynamo_component_responses_total', L).value, 3);
      assert.equal(find(all, 'dynamo_component_requests_total', L).value, 3);
      assert.equal(find(all, 'dynamo_component_bytes_processed_total', L).value, 6);
      assert.equal((find(all, 'dynamo_component_request_duration_seconds', L).value as { count: number }).count, 3);
      assert.equal(find(all, 'users_jobs_total', {}).value, 7);
      assert.ok(all.some((m) => m.descriptor.name === 'uptime_seconds'));

      await runtime.shutdown();
      exporter.reset();
      await periodic.forceFlush();
      const after = exporter.getMetrics().at(-1)!.scopeMetrics;
      assert.deepEqual(after.map((s) => s.scope.name), ['users-lib'], 'only the user\'s own metrics remain');
    } finally {
      await runtime.shutdown();
      await provider.shutdown();
    }
  });

  it("with meterProvider, shutdown unregisters every callback of ours: the user's provider keeps our series frozen, never growing or piling up", async () => {
    const userReader = new UserReader();
    const provider = new MeterProvider({ readers: [userReader] });
    const collect = async () => (await userReader.collect()).resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const uptime = (all: MetricData[]) => (all.find((m) => m.descriptor.name === 'uptime_seconds')!.dataPoints as Array<{ value: number }>).map((p) => p.value);
    let observed = 0;
    for (let round = 0; round < 2; round++) {
      const runtime = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, meterProvider: provider, handleSignals: false, logSink: () => {} });
      const ep = runtime.namespace('ns').component('comp').endpoint('echo');
      ep.createObservableGauge({ name: 'kv_usage', description: 'kv' }, (r) => {
        observed++;
        r.observe(0.5);
      });
      await ep.serve((req: string) => req);
      const client = await ep.client();
      await client.waitForInstances();
      await client.generate('abcd').collect();
      await client.close();
      observed = 0;
      await collect();
      assert.equal(observed, 1, 'one callback per live runtime, none left from the one before');
      await runtime.shutdown();
    }
    const first = await collect();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await collect();
    assert.equal(observed, 1, 'no callback of ours runs after shutdown');
    // The SDK keeps reporting a cumulative series it once saw (it has no API to drop one): the
    // values stay as they were at shutdown. docs/otlp.md says so; metricProducer has no such residue.
    assert.deepEqual(uptime(second), uptime(first));
    assert.equal(uptime(first).length, 1);
    assert.equal(find(second, 'dynamo_component_requests_total', L).value, 1);
    await provider.shutdown();
  });
});
