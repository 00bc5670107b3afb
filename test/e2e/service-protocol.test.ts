import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { DistributedRuntime, VERSION } from '../../src/index.ts';
import { startNatsServer } from '../helpers/nats-server.ts';

describe('NATS service protocol ($SRV)', () => {
  it('answers PING, INFO and STATS as standard NATS tooling expects', async () => {
    const nats = await startNatsServer();
    const rt = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
    const raw = await connect({ servers: nats.url });
    try {
      const ep = rt.namespace('ns').component('comp').endpoint('echo');
      await ep.serve((req: string) => req);
      const client = await rt.namespace('ns').component('comp').endpoint('echo').client();
      await client.waitForInstances();
      for (let i = 0; i < 3; i++) await client.generate('x').collect();
      await client.close();

      const ping = (await raw.request('$SRV.PING', undefined, { timeout: 2000 })).json<Record<string, unknown>>();
      assert.deepEqual(ping, { type: 'io.nats.micro.v1.ping_response', name: 'dynamo', id: rt.instanceId, version: VERSION, metadata: { runtime: 'dynamo-otel' } });

      const info = (await raw.request(`$SRV.INFO.dynamo.${rt.instanceId}`, undefined, { timeout: 2000 })).json<{ type: string; endpoints: unknown[] }>();
      assert.equal(info.type, 'io.nats.micro.v1.info_response');
      assert.deepEqual(info.endpoints, [
        {
          name: 'ns-comp-echo',
          subject: 'dynamo.ns.comp.echo',
          queue_group: 'dynamo.ns.comp.echo',
          metadata: { dynamo_namespace: 'ns', dynamo_component: 'comp', dynamo_endpoint: 'echo', instance_subject: `dynamo.ns.comp.echo.${rt.instanceId}` },
        },
      ]);

      const stats = (await raw.request('$SRV.STATS.dynamo', undefined, { timeout: 2000 })).json<{ type: string; started: string; endpoints: Array<Record<string, unknown>> }>();
      assert.equal(stats.type, 'io.nats.micro.v1.stats_response');
      assert.ok(!Number.isNaN(Date.parse(stats.started)));
      const s = stats.endpoints[0]!;
      assert.deepEqual([s['name'], s['num_requests'], s['num_errors'], s['last_error']], ['ns-comp-echo', 3, 0, '']);
      assert.equal(typeof s['processing_time'], 'number');
      assert.equal(s['average_processing_time'], Math.round((s['processing_time'] as number) / 3));
    } finally {
      await raw.close();
      await rt.shutdown();
      await nats.stop();
    }
  });
});
