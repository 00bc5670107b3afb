import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistributedRuntime, DynamoError, ErrorCode } from '../../src/index.ts';
import { readOtlpConfig } from '../../src/config/otlp-env.ts';

const invalid = (name: string) => (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidEnv && e.message.startsWith(`${name}=`);

describe('OTLP environment', () => {
  it('is off unless OTEL_METRICS_EXPORTER says otlp or an endpoint is set', () => {
    assert.equal(readOtlpConfig({}), undefined);
    assert.equal(readOtlpConfig({ OTEL_METRICS_EXPORTER: 'prometheus' }), undefined);
    assert.equal(readOtlpConfig({ OTEL_METRICS_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }), undefined);
    assert.deepEqual(readOtlpConfig({ OTEL_METRICS_EXPORTER: 'otlp' }), {
      protocol: 'http/protobuf',
      url: 'http://localhost:4318/v1/metrics',
      headers: {},
      compression: 'none',
      intervalMs: 60000,
      timeoutMs: 30000,
      temporality: 'cumulative',
    });
  });

  it('prefers the signal-specific endpoint as is; appends /v1/metrics to the generic one for HTTP only', () => {
    assert.equal(readOtlpConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' })!.url, 'http://c:4318/v1/metrics');
    assert.equal(readOtlpConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'https://m:9/custom' })!.url, 'https://m:9/custom');
    assert.equal(readOtlpConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })!.url, 'http://c:4317');
    assert.equal(readOtlpConfig({ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })!.url, 'http://localhost:4317');
  });

  it('reads protocol (signal-specific first), headers, compression, interval, timeout, temporality', () => {
    const c = readOtlpConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'a=1,b=two%20words',
      OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'b=3',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'GZIP',
      OTEL_METRIC_EXPORT_INTERVAL: '5000',
      OTEL_METRIC_EXPORT_TIMEOUT: '1000',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'Delta',
    })!;
    assert.deepEqual(c, { protocol: 'http/json', url: 'http://c:4318/v1/metrics', headers: { a: '1', b: '3' }, compression: 'gzip', intervalMs: 5000, timeoutMs: 1000, temporality: 'delta' });
  });

  const bad: Array<[string, string]> = [
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'udp'],
    ['OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', 'http/xml'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'ftp://c:21'],
    ['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'not a url'],
    ['OTEL_METRIC_EXPORT_INTERVAL', 'soon'],
    ['OTEL_METRIC_EXPORT_INTERVAL', '0'],
    ['OTEL_METRIC_EXPORT_TIMEOUT', '-5'],
    ['OTEL_EXPORTER_OTLP_COMPRESSION', 'brotli'],
    ['OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE', 'sometimes'],
    ['OTEL_EXPORTER_OTLP_HEADERS', 'novalue'],
    ['OTEL_EXPORTER_OTLP_HEADERS', 'k=%E0%A4%A'],
    ['OTEL_METRICS_EXPORTER', 'zipkin'],
  ];
  for (const [name, value] of bad) {
    it(`refuses ${name}=${JSON.stringify(value)} at start`, async () => {
      const env = { OTEL_METRICS_EXPORTER: 'otlp', [name]: value };
      assert.throws(() => readOtlpConfig(env), invalid(name));
      await assert.rejects(DistributedRuntime.create({ env, nats: false, handleSignals: false, logSink: () => {} }), invalid(name));
    });
  }

  it('builds the resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, refusing malformed ones', () => {
    const rt = new DistributedRuntime({ env: { OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs,region=eu%2Dwest' }, nats: false });
    assert.deepEqual(rt.config.resourceAttributes, { 'service.instance.id': rt.instanceId, 'service.name': 'from-attrs', region: 'eu-west' });
    const named = new DistributedRuntime({ env: { OTEL_SERVICE_NAME: 'svc', OTEL_RESOURCE_ATTRIBUTES: 'service.name=ignored' }, nats: false });
    assert.equal(named.config.resourceAttributes['service.name'], 'svc');
    assert.throws(() => new DistributedRuntime({ env: { OTEL_RESOURCE_ATTRIBUTES: '=x' }, nats: false }), invalid('OTEL_RESOURCE_ATTRIBUTES'));
  });
});
