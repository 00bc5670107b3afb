import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistributedRuntime } from '../../src/index.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { eventually } from '../helpers/tools.ts';

describe('NATS outage', () => {
  it('/health says 503 while NATS is down, 200 after it is back; serving resumes without a restart', async () => {
    const nats = await startNatsServer();
    const env = { NATS_SERVER: nats.url, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' };
    const server = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {} });
    const clientRt = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
    try {
      const ep = server.namespace('ns').component('c').endpoint('echo');
      await ep.serve((req: string) => req);
      const health = async () => {
        const res = await fetch(`http://127.0.0.1:${server.systemPort}/health`);
        return { status: res.status, body: (await res.json()) as { nats: string; endpoints: Record<string, string> } };
      };
      const up = await health();
      assert.deepEqual([up.status, up.body.nats, up.body.endpoints], [200, 'connected', { 'ns/c/echo': 'serving' }]);

      await nats.kill();
      const down = await eventually(async () => {
        const h = await health();
        return h.status === 503 ? h : undefined;
      }, 10_000, '503');
      assert.equal(down.body.nats, 'disconnected');
      assert.deepEqual(down.body.endpoints, { 'ns/c/echo': 'serving' });

      await nats.restart();
      await eventually(async () => ((await health()).status === 200 ? true : undefined), 15_000, '200 again');
      const client = await clientRt.namespace('ns').component('c').endpoint('echo').client({ timeoutMs: 2000 });
      const reply = await eventually(async () => (await client.generate<string>('back').collect())[0], 15_000, 'a reply after the outage');
      assert.equal(reply, 'back');
      await client.close();
    } finally {
      await clientRt.shutdown();
      await server.shutdown();
      await nats.stop();
    }
  });
});
