import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistributedRuntime } from '../../src/index.ts';
import { parseExposition } from '../helpers/exposition.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { promtoolCheck } from '../helpers/tools.ts';
import { waitFor } from '../helpers/wait.ts';

/** `dynamo_runtime_nats_connected` as /metrics serves it: its samples' values, and its HELP/TYPE. */
async function natsConnected(port: number): Promise<{ values: number[]; help: string; type: string }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.equal(promtoolCheck(text).status, 0);
  const family = parseExposition(text).get('dynamo_runtime_nats_connected');
  return { values: family?.samples.map((s) => s.value) ?? [], help: family?.help ?? '', type: family?.type ?? '' };
}

describe('dynamo_runtime_nats_connected', () => {
  it('is 1 while connected, 0 during an outage, 1 again after the reconnect', async () => {
    const nats = await startNatsServer();
    const rt = await DistributedRuntime.create({
      env: { NATS_SERVER: nats.url, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' },
      handleSignals: false,
      runtimeMetrics: false,
      logSink: () => {},
    });
    try {
      const port = rt.systemPort!;
      assert.deepEqual(await natsConnected(port), { values: [1], help: 'Whether the DistributedRuntime is connected to NATS (1) or not (0)', type: 'gauge' });
      await nats.kill();
      await waitFor(async () => (await natsConnected(port)).values, { what: 'the gauge at 0', timeoutMs: 15_000, until: (v) => v.length === 1 && v[0] === 0 });
      await nats.restart();
      await waitFor(async () => (await natsConnected(port)).values, { what: 'the gauge back at 1', timeoutMs: 20_000, until: (v) => v.length === 1 && v[0] === 1 });
    } finally {
      await rt.shutdown();
      await nats.stop();
    }
  });

  it('has no series on a runtime without NATS', async () => {
    const rt = await DistributedRuntime.create({ env: { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' }, nats: false, handleSignals: false, runtimeMetrics: false, logSink: () => {} });
    try {
      assert.deepEqual((await natsConnected(rt.systemPort!)).values, []);
    } finally {
      await rt.shutdown();
    }
  });
});
