import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime, EndpointMetric, ERROR_TYPES, type RequestContext } from '../../src/index.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { exportedValue, startGrpcReceiver, startHttpReceiver, type Receiver } from '../helpers/otlp-receiver.ts';

const L = { dynamo_namespace: 'ns', dynamo_component: 'comp', dynamo_endpoint: 'echo' };

describe('OTLP push to a receiver on loopback', () => {
  let nats: NatsServer;
  before(async () => {
    nats = await startNatsServer();
  });
  after(() => nats.stop());

  for (const protocol of ['http/protobuf', 'http/json', 'grpc'] as const) {
    it(`${protocol}: names, units, descriptions, attributes and exact values equal /metrics`, async () => {
      const receiver: Receiver = protocol === 'grpc' ? await startGrpcReceiver() : await startHttpReceiver();
      const env = {
        NATS_SERVER: nats.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_METRIC_EXPORT_INTERVAL: '60000',
        OTEL_SERVICE_NAME: `svc-${protocol}`,
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test,team=infra%20core',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=acme',
        ...(protocol === 'http/json' ? { OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' } : {}),
      };
      const server = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {} });
      const clientRt = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
      try {
        const ep = server.namespace('ns').component('comp').endpoint('echo');
        const processed = ep.createCounter({ name: 'bytes_processed', description: 'Example of a custom metric. Total number of data bytes processed by system handler', unit: 'By' });
        await ep.serve(async function* (req: string, _ctx: RequestContext) {
          if (req === 'fail') throw new Error('asked to fail');
          processed.add(req.length);
          for (const word of req.split(' ')) yield word;
        });
        const client = await clientRt.namespace('ns').component('comp').endpoint('echo').client();
        await client.waitForInstances();
        for (const text of ['hello world', 'a b c d', 'x'.repeat(300), 'one']) await client.generate(text).collect();
        await client.generate('fail').collect().catch(() => {});

        await server.forceFlush();
        const families = parseExposition(await server.metricsText());
        const exp = receiver.exports.at(-1)!;
        assert.ok(exp, 'nothing exported');
        assert.equal(exp.resource['service.name'], `svc-${protocol}`);
        assert.equal(exp.resource['service.instance.id'], server.instanceId);
        assert.equal(exp.resource['deployment.environment'], 'test');
        assert.equal(exp.resource['team'], 'infra core');
        assert.equal(exp.headers['x-tenant'], 'acme');
        if (protocol === 'http/json') assert.equal(exp.headers['content-encoding'], 'gzip');

        const metrics = exp.scopes.flatMap((s) => s.metrics);
        for (const spec of Object.values(EndpointMetric)) {
          const m = metrics.find((x) => x.name === spec.name);
          assert.ok(m, `missing ${spec.name}`);
          assert.deepEqual([m.description, m.unit], [spec.help, spec.unit]);
        }
        assert.equal(exp.scopes.find((s) => s.metrics.some((m) => m.name === EndpointMetric.requests.name))!.name, 'dynamo/ns/comp/echo');
        const prom = (name: string, extra: Record<string, string> = {}, sample = name) => sampleValue(families, name, sample, { ...L, ...extra });
        for (const name of ['dynamo_component_requests_total', 'dynamo_component_request_bytes_total', 'dynamo_component_response_bytes_total', 'dynamo_component_inflight_requests', 'dynamo_component_bytes_processed_total']) {
          assert.equal(exportedValue(exp, name, L).value, prom(name), name);
        }
        assert.equal(exportedValue(exp, 'dynamo_component_requests_total', L).value, 5);
        for (const t of ERROR_TYPES) {
          assert.equal(exportedValue(exp, 'dynamo_component_errors_total', { ...L, error_type: t }).value, prom('dynamo_component_errors_total', { error_type: t }), t);
        }
        assert.equal(exportedValue(exp, 'dynamo_component_errors_total', { ...L, error_type: 'generate' }).value, 1);
        const hist = exportedValue(exp, 'dynamo_component_request_duration_seconds', L);
        const d = 'dynamo_component_request_duration_seconds';
        assert.equal(hist.count, prom(d, {}, `${d}_count`));
        assert.equal(hist.sum, prom(d, {}, `${d}_sum`));
        const cumulative = hist.bucketCounts!.map(((acc) => (c: number) => (acc += c))(0));
        assert.deepEqual(cumulative, [...hist.bounds!.map((b) => prom(d, { le: String(b) }, `${d}_bucket`)), prom(d, { le: '+Inf' }, `${d}_bucket`)]);
        const uptime = exp.scopes.flatMap((s) => s.metrics).find((m) => m.name === 'uptime_seconds')!;
        assert.deepEqual(uptime.points[0]!.attributes, { dynamo_namespace: 'system_status_server' });
        await client.close();
      } finally {
        await clientRt.shutdown();
        await server.shutdown();
        await receiver.stop();
      }
    });
  }

  it('sends a large export as several requests of at most 25 endpoints, together complete and exact', async () => {
    const receiver = await startHttpReceiver();
    const rt = await DistributedRuntime.create({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '60000' }, nats: false, handleSignals: false, logSink: () => {} });
    try {
      for (let i = 0; i < 250; i++) {
        const ep = rt.namespace('ns').component('comp').endpoint(`ep${i}`);
        ep.setServing(true);
        for (let k = 0; k < i % 7; k++) ep.recorder.requestEnded(ep.recorder.requestStarted(k));
      }
      await rt.forceFlush();
      assert.equal(receiver.exports.length, 11); // 250 endpoints + the runtime's own scope (uptime)
      assert.ok(receiver.exports.every((e) => e.scopes.length <= 25));
      assert.equal(receiver.exports.reduce((n, e) => n + e.scopes.filter((s) => s.name.startsWith('dynamo/ns/')).length, 0), 250);
      for (let i = 0; i < 250; i++) {
        const hits = receiver.exports.flatMap((e) => e.scopes.filter((s) => s.name === `dynamo/ns/comp/ep${i}`).map(() => e));
        assert.equal(hits.length, 1, `ep${i} exported once`);
        assert.equal(exportedValue(hits[0]!, 'dynamo_component_requests_total', { dynamo_endpoint: `ep${i}` }).value, i % 7);
      }
    } finally {
      await rt.shutdown();
      await receiver.stop();
    }
  });
});
