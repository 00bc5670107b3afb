import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistributedRuntime } from '../../src/index.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { eventually, startPrometheus } from '../helpers/tools.ts';

describe('a real Prometheus server scraping the status server', () => {
  it('reports up == 1 and the exact request count served', async () => {
    const nats = await startNatsServer();
    const rt = await DistributedRuntime.create({
      env: { NATS_SERVER: nats.url, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' },
      logSink: () => {},
      handleSignals: false,
    });
    const prom = await startPrometheus(`127.0.0.1:${rt.systemPort}`);
    try {
      const comp = rt.namespace('example_namespace').component('example_component');
      const chosen = comp.endpoint('example_endpoint');
      const other = comp.endpoint('other_endpoint');
      // Real requests over NATS, 37 and 5 of them: the counts Prometheus must end up with.
      for (const ep of [chosen, other]) await ep.serve((req: string) => req);
      for (const [ep, n] of [[chosen, 37], [other, 5]] as const) {
        const client = await ep.client();
        await client.waitForInstances();
        for (let i = 0; i < n; i++) assert.deepEqual(await client.generate('ping').collect(), ['ping']);
        await client.close();
      }
      chosen.createCounter({ name: 'bytes_processed', description: 'Example of a custom metric. Total number of data bytes processed by system handler' }).add(42);

      const up = await eventually(async () => {
        const r = await prom.query('up{job="dynamo"}');
        return r[0]?.value[1] === '1' ? r : undefined;
      }, 30_000, 'up == 1');
      assert.equal(up.length, 1);

      const sel = 'dynamo_namespace="example_namespace",dynamo_component="example_component",dynamo_endpoint="example_endpoint"';
      const requests = await eventually(async () => {
        const r = await prom.query(`dynamo_component_requests_total{${sel}}`);
        return r.length === 1 && r[0]!.value[1] === '37' ? r : undefined;
      }, 30_000, 'requests_total == 37');
      assert.deepEqual(
        Object.fromEntries(Object.entries(requests[0]!.metric).filter(([k]) => k !== 'instance')),
        { __name__: 'dynamo_component_requests_total', job: 'dynamo', dynamo_namespace: 'example_namespace', dynamo_component: 'example_component', dynamo_endpoint: 'example_endpoint' },
      );
      const errors = await prom.query(`dynamo_component_errors_total{${sel}}`);
      assert.deepEqual(errors.map((e) => e.metric['error_type']).sort(), ['deserialization', 'generate', 'invalid_message', 'publish_final', 'publish_response', 'response_stream']);
      assert.deepEqual((await prom.query(`dynamo_component_bytes_processed_total{${sel}}`)).map((r) => r.value[1]), ['42']);
      assert.deepEqual((await prom.query(`dynamo_component_request_duration_seconds_count{${sel}}`)).map((r) => r.value[1]), ['37']);
      assert.deepEqual((await prom.query('sum(dynamo_component_requests_total)')).map((r) => r.value[1]), ['42']);
      assert.equal((await prom.query('target_info')).length, 1);
      const scrapeProblems = await fetch(`${prom.url}/api/v1/targets`).then((r) => r.json() as Promise<{ data: { activeTargets: Array<{ health: string; lastError: string }> } }>);
      assert.deepEqual(scrapeProblems.data.activeTargets.map((t) => [t.health, t.lastError]), [['up', '']]);
    } finally {
      await prom.stop();
      await rt.shutdown();
      await nats.stop();
    }
  });
});
