import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { metrics } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { ClientMetric, DistributedRuntime, EndpointMetric, ERROR_TYPES, type RequestContext } from '../../src/index.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { captureLogs } from '../helpers/runtime.ts';
import { eventually } from '../helpers/tools.ts';
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
        // A client in the exporting runtime: its caller-side metrics are exported too.
        const client = await server.namespace('ns').component('comp').endpoint('echo').client();
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
        for (const spec of [...Object.values(EndpointMetric), ...Object.values(ClientMetric)]) {
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
        // Every automatic family, server and caller side, every series: the same numbers both ways.
        for (const spec of [...Object.values(EndpointMetric), ...Object.values(ClientMetric)]) {
          const name = spec.name;
          if (spec.type === 'histogram') {
            const h = exportedValue(exp, name, L);
            assert.equal(h.count, prom(name, {}, `${name}_count`), name);
            assert.equal(h.sum, prom(name, {}, `${name}_sum`), name);
            let acc = 0;
            assert.deepEqual([...h.bucketCounts!.map((c) => (acc += c))], [...h.bounds!.map((b) => prom(name, { le: String(b) }, `${name}_bucket`)), prom(name, { le: '+Inf' }, `${name}_bucket`)], name);
          } else if ('labelled' in spec) {
            for (const v of spec.labelled.values) assert.equal(exportedValue(exp, name, { ...L, [spec.labelled.label]: v }).value, prom(name, { [spec.labelled.label]: v }), `${name} ${v}`);
          } else {
            assert.equal(exportedValue(exp, name, L).value, prom(name), name);
          }
        }
        assert.equal(exportedValue(exp, 'dynamo_component_responses_total', L).value, 2 + 4 + 1 + 1);
        assert.equal(exportedValue(exp, 'dynamo_component_time_to_first_response_seconds', L).count, 4);
        assert.equal(exportedValue(exp, 'dynamo_component_inter_response_seconds', L).count, 1 + 3);
        assert.equal(exportedValue(exp, 'dynamo_client_requests_total', L).value, 5);
        assert.equal(exportedValue(exp, 'dynamo_client_errors_total', { ...L, error_type: 'remote' }).value, 1);
        assert.equal(exp.scopes.find((s) => s.metrics.some((m) => m.name === ClientMetric.requests.name))!.name, 'dynamo/ns/comp/echo/client');
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

  it('zero-code: sdk-node configured only by env ships our metrics over OTLP, and /metrics still answers 200 with exact values', async () => {
    const receiver = await startHttpReceiver();
    const env = {
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${receiver.url}/v1/metrics`,
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf',
      OTEL_METRIC_EXPORT_INTERVAL: '600000',
      OTEL_SERVICE_NAME: 'zero-code-app',
    };
    // What `node --import @opentelemetry/auto-instrumentations-node/register` does: an sdk-node
    // built from the environment alone, started before the application.
    const saved = { ...process.env };
    Object.assign(process.env, env);
    const sdk = new NodeSDK({ instrumentations: [] });
    sdk.start();
    Object.assign(process.env, saved);
    for (const key of Object.keys(env)) if (!(key in saved)) delete process.env[key];
    const logs = captureLogs();
    const runtime = await DistributedRuntime.create({
      env: { ...env, NATS_SERVER: nats.url, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' },
      meterProvider: 'global',
      handleSignals: false,
      logSink: logs.sink,
    });
    try {
      const ep = runtime.namespace('ns').component('comp').endpoint('echo');
      const processed = ep.createCounter({ name: 'bytes_processed', description: 'processed', unit: 'By' });
      await ep.serve((req: string) => {
        processed.add(req.length);
        return req;
      });
      const client = await ep.client();
      await client.waitForInstances();
      for (const text of ['hello', 'world!']) await client.generate(text).collect();
      await client.close();

      const res = await fetch(`http://127.0.0.1:${runtime.systemPort}/metrics`);
      assert.equal(res.status, 200);
      const families = parseExposition(await res.text());
      assert.equal(sampleValue(families, 'dynamo_component_requests_total', 'dynamo_component_requests_total', L), 2);
      assert.equal(sampleValue(families, 'dynamo_component_bytes_processed_total', 'dynamo_component_bytes_processed_total', L), 11);

      await (metrics.getMeterProvider() as unknown as { forceFlush(): Promise<void> }).forceFlush();
      const exp = receiver.exports.at(-1)!;
      assert.equal(exp.resource['service.name'], 'zero-code-app');
      assert.equal(exportedValue(exp, 'dynamo_component_requests_total', L).value, 2);
      assert.equal(exportedValue(exp, 'dynamo_component_bytes_processed_total', L).value, 11);
      assert.equal(exportedValue(exp, 'dynamo_component_request_duration_seconds', L).count, 2);
      assert.deepEqual(logs.lines.filter((l) => l['level'] === 'warn' || l['level'] === 'error'), []);

      // Forgetting meterProvider: 'global' is no longer silent.
      const second = captureLogs();
      const forgot = await DistributedRuntime.create({ env, nats: false, handleSignals: false, logSink: second.sink });
      await forgot.shutdown();
      assert.deepEqual(second.lines.filter((l) => l['level'] === 'warn').map((l) => l['msg']), [
        "a global MeterProvider is registered (e.g. sdk-node) and OTLP is configured: this runtime starts a second OTLP pipeline with its own resource; pass meterProvider: 'global' to use that one",
      ]);
    } finally {
      await runtime.shutdown();
      await sdk.shutdown();
      metrics.disable();
      await receiver.stop();
    }
  });

  it('zero-code as a real process: node --import <sdk-node from env> app — /metrics 200 with exact values, OTLP shipped by the SDK', async () => {
    const receiver = await startHttpReceiver();
    const dir = mkdtempSync(join(tmpdir(), 'dynamo-zero-code-'));
    // What @opentelemetry/auto-instrumentations-node/register does for metrics: an sdk-node built
    // from the environment alone, started before the application's first line.
    const register = join(dir, 'register.mjs');
    writeFileSync(register, `import { NodeSDK } from ${JSON.stringify(import.meta.resolve('@opentelemetry/sdk-node'))};\nnew NodeSDK().start();\n`);
    const app = join(dir, 'app.mts');
    writeFileSync(
      app,
      [
        `import { DistributedRuntime } from ${JSON.stringify(new URL('../../src/index.ts', import.meta.url).href)};`,
        "const runtime = await DistributedRuntime.create({ meterProvider: 'global' });",
        "const ep = runtime.namespace('ns').component('comp').endpoint('echo');",
        "const processed = ep.createCounter({ name: 'bytes_processed', description: 'processed', unit: 'By' });",
        'await ep.serve((req: string) => { processed.add(req.length); return req; });',
        'console.log(JSON.stringify({ port: runtime.systemPort }));',
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', register, '--import', 'tsx', app], {
      cwd: new URL('../../', import.meta.url),
      env: {
        ...process.env,
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${receiver.url}/v1/metrics`,
        OTEL_METRIC_EXPORT_INTERVAL: '300',
        OTEL_SERVICE_NAME: 'zero-code-process',
        NATS_SERVER: nats.url,
        DYN_SYSTEM_ENABLED: 'true',
        DYN_SYSTEM_PORT: '0',
        DYN_SYSTEM_HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const clientRt = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
    try {
      const { port } = await eventually(async () => (stdout.includes('\n') ? (JSON.parse(stdout.split('\n')[0]!) as { port: number }) : undefined), 30_000, `the app to start (stderr: ${stderr})`);
      const client = await clientRt.namespace('ns').component('comp').endpoint('echo').client();
      await client.waitForInstances();
      for (const text of ['hello', 'world!', 'x']) await client.generate(text).collect();
      await client.close();

      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(res.status, 200);
      const families = parseExposition(await res.text());
      assert.equal(sampleValue(families, 'dynamo_component_requests_total', 'dynamo_component_requests_total', L), 3);
      assert.equal(sampleValue(families, 'dynamo_component_bytes_processed_total', 'dynamo_component_bytes_processed_total', L), 12);

      const exp = await eventually(async () => {
        const last = receiver.exports.at(-1);
        return last !== undefined && exportedValue(last, 'dynamo_component_requests_total', L).value === 3 ? last : undefined;
      }, 30_000, 'the SDK to export requests_total == 3');
      assert.equal(exp.resource['service.name'], 'zero-code-process');
      assert.equal(exportedValue(exp, 'dynamo_component_bytes_processed_total', L).value, 12);
      assert.equal(exportedValue(exp, 'dynamo_component_request_duration_seconds', L).count, 3);
      assert.doesNotMatch(stderr, /"level":"(warn|error)"/);
    } finally {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
      await clientRt.shutdown();
      await receiver.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
