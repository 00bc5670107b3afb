/**
 * OpenTelemetry's RPC conventions, opted in with OTEL_SEMCONV_STABILITY_OPT_IN: the call-duration
 * histograms with their attributes and bucket advice, on /metrics and through metricProducer, next
 * to the unchanged dynamo_* families; nothing of them without the opt-in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime, EndpointMetric } from '../../src/index.ts';
import { parseExposition } from '../helpers/exposition.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { promtoolCheck } from '../helpers/tools.ts';

describe('RPC semantic conventions (opt-in)', () => {
  let nats: NatsServer;
  before(async () => {
    nats = await startNatsServer();
  });
  after(() => nats.stop());

  async function run(optIn: string | undefined) {
    const env: Record<string, string> = { NATS_SERVER: nats.url, ...(optIn === undefined ? {} : { OTEL_SEMCONV_STABILITY_OPT_IN: optIn }) };
    const rt = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {} });
    const ep = rt.namespace('ns').component('c').endpoint('e');
    await ep.serve(async function* (req: string) {
      if (req === 'fail') throw new Error('asked to');
      yield req;
    });
    const client = await ep.client();
    await client.waitForInstances();
    for (const r of ['a', 'b']) await client.generate(r).collect();
    await client.generate('fail').collect().catch(() => {});
    await client.close();
    const text = await rt.metricsText();
    const { resourceMetrics } = await rt.metricProducer.collect();
    await rt.shutdown();
    return { text, resourceMetrics };
  }

  for (const optIn of ['rpc', 'http, rpc/dup']) {
    it(`OTEL_SEMCONV_STABILITY_OPT_IN="${optIn}": rpc.server/client.call.duration with rpc.system.name, rpc.method and error.type on failures only`, async () => {
      const { text, resourceMetrics } = await run(optIn);
      const f = parseExposition(text);
      const base = { dynamo_namespace: 'ns', dynamo_component: 'c', dynamo_endpoint: 'e', rpc_method: 'ns.c/e', rpc_system_name: 'dynamo' };
      const count = (family: string, labels: Record<string, string>) =>
        f.get(family)!.samples.filter((s) => s.name === `${family}_count` && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort())).map((s) => s.value);
      assert.deepEqual(count('rpc_server_call_duration', base), [2]);
      assert.deepEqual(count('rpc_server_call_duration', { ...base, error_type: 'generate' }), [1]);
      assert.deepEqual(count('rpc_client_call_duration', base), [2]);
      assert.deepEqual(count('rpc_client_call_duration', { ...base, error_type: 'remote' }), [1]);
      assert.deepEqual(
        f.get('rpc_server_call_duration')!.samples.filter((s) => s.name.endsWith('_bucket') && s.labels['error_type'] === undefined).map((s) => s.labels['le']),
        ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf'],
      );
      assert.ok(f.has(EndpointMetric.duration.name), 'the dynamo_* families stay');
      assert.equal(promtoolCheck(text).status, 0, promtoolCheck(text).output);
      // Through the OpenTelemetry path the names and attribute keys are the conventions' own.
      const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
      const server = metrics.find((m) => m.descriptor.name === 'rpc.server.call.duration')!;
      assert.equal(server.descriptor.unit, 's');
      const failed = server.dataPoints.find((p) => p.attributes['error.type'] === 'generate')!;
      assert.deepEqual([failed.attributes['rpc.system.name'], failed.attributes['rpc.method']], ['dynamo', 'ns.c/e']);
      assert.ok(metrics.some((m) => m.descriptor.name === 'rpc.client.call.duration'));
    });
  }

  it('without the opt-in (or with other values only) nothing of them is emitted', async () => {
    for (const optIn of [undefined, 'http,database']) {
      const { text } = await run(optIn);
      assert.equal(/^rpc_/m.test(text), false, String(optIn));
    }
  });
});
