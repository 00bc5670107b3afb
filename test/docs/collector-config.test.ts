import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';

interface CollectorConfig {
  receivers: { otlp: { protocols: { grpc: { endpoint: string }; http: { endpoint: string } } } };
  processors: Record<string, unknown>;
  exporters: { prometheus: { endpoint: string; enable_open_metrics?: boolean }; debug: unknown };
  service: { pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }> };
}

describe('otel-collector.yaml', () => {
  const config = parse(readFileSync(new URL('../../otel-collector.yaml', import.meta.url), 'utf8')) as CollectorConfig;

  it('receives OTLP on gRPC 4317 and HTTP 4318, batches, exports to Prometheus on 8889 and debug', () => {
    assert.match(config.receivers.otlp.protocols.grpc.endpoint, /:4317$/);
    assert.match(config.receivers.otlp.protocols.http.endpoint, /:4318$/);
    assert.ok('batch' in config.processors);
    assert.match(config.exporters.prometheus.endpoint, /:8889$/);
    // The exemplars that arrive over OTLP leave the collector only in OpenMetrics.
    assert.equal(config.exporters.prometheus.enable_open_metrics, true);
    assert.ok('debug' in config.exporters);
  });

  it('wires one metrics pipeline receivers → processors → exporters, each referring to a defined component', () => {
    assert.deepEqual(Object.keys(config.service.pipelines), ['metrics']);
    const p = config.service.pipelines['metrics']!;
    assert.deepEqual(p, { receivers: ['otlp'], processors: ['batch'], exporters: ['prometheus', 'debug'] });
    for (const r of p.receivers) assert.ok(r in config.receivers);
    for (const x of p.processors) assert.ok(x in config.processors);
    for (const e of p.exporters) assert.ok(e in config.exporters);
  });
});
