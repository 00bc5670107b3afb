import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistributedRuntime, DynamoError, ErrorCode } from '../../src/index.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { eventually } from '../helpers/tools.ts';

const TYPED_OUTAGE_ERRORS: ReadonlySet<string> = new Set([ErrorCode.StreamCutShort, ErrorCode.Timeout, ErrorCode.NoResponders]);

describe('NATS killed and restarted under sustained load', () => {
  it('reconnects by itself, /health goes 503 then 200, serving resumes, counters never go back, clients get typed errors not hangs', async () => {
    const nats = await startNatsServer();
    const server = await DistributedRuntime.create({
      env: { NATS_SERVER: nats.url, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' },
      handleSignals: false,
      logSink: () => {},
    });
    const clientRt = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
    const base = `http://127.0.0.1:${server.systemPort}`;
    const ep = server.namespace('ns').component('c').endpoint('work');
    await ep.serve(async function* (req: number) {
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 5));
        yield req + i;
      }
    });
    const client = await clientRt.namespace('ns').component('c').endpoint('work').client({ timeoutMs: 1500 });
    await client.waitForInstances();

    const TIMEOUT = 1500;
    let running = true;
    const outcomes: Array<{ at: number; result: string; ms: number }> = [];
    const t0 = Date.now();
    const worker = async (w: number): Promise<void> => {
      for (let n = 0; running; n++) {
        const start = Date.now();
        let result: string;
        try {
          const got = await client.generate<number>(w * 1_000_000 + n * 10).collect();
          result = got.length === 3 && got[2] === w * 1_000_000 + n * 10 + 2 ? 'ok' : `bad ${JSON.stringify(got)}`;
        } catch (e) {
          result = e instanceof DynamoError ? e.code : `untyped ${String(e)}`;
          await new Promise((r) => setTimeout(r, 50));
        }
        outcomes.push({ at: start - t0, result, ms: Date.now() - start });
      }
    };
    const counts: number[] = [];
    const health = new Set<number>();
    const scraper = (async () => {
      while (running) {
        try {
          const text = await (await fetch(`${base}/metrics`)).text();
          counts.push(sampleValue(parseExposition(text), 'dynamo_component_requests_total', 'dynamo_component_requests_total', { dynamo_endpoint: 'work' }));
          health.add((await fetch(`${base}/health`)).status);
        } catch (e) {
          assert.fail(`scrape failed: ${String(e)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    try {
      const workers = Array.from({ length: 16 }, (_, w) => worker(w));
      await new Promise((r) => setTimeout(r, 1000));
      await nats.kill();
      const killedAt = Date.now() - t0;
      await eventually(async () => (health.has(503) ? true : undefined), 5000, '/health 503 during the outage');
      await new Promise((r) => setTimeout(r, 1000));
      await nats.restart();
      const restartedAt = Date.now() - t0;
      await eventually(async () => ((await fetch(`${base}/health`)).status === 200 ? true : undefined), 15_000, '/health 200 again');
      await eventually(async () => (outcomes.some((o) => o.at > restartedAt && o.result === 'ok') ? true : undefined), 15_000, 'serving resumed');
      await new Promise((r) => setTimeout(r, 1000));
      running = false;
      await Promise.all([...workers, scraper]);

      const tally: Record<string, number> = {};
      for (const o of outcomes) tally[o.result] = (tally[o.result] ?? 0) + 1;
      const failures = Object.keys(tally).filter((k) => k !== 'ok');
      assert.deepEqual(failures.filter((k) => !TYPED_OUTAGE_ERRORS.has(k)), [], `only typed outage errors: ${JSON.stringify(tally)}`);
      assert.ok(failures.length > 0, 'requests caught in the outage saw errors');
      assert.ok(outcomes.filter((o) => o.at < killedAt && o.result === 'ok').length > 50);
      assert.ok(outcomes.filter((o) => o.at > restartedAt && o.result === 'ok').length > 50);
      const slowest = Math.max(...outcomes.map((o) => o.ms));
      assert.ok(slowest < TIMEOUT + 3000, `a request took ${slowest} ms: a hang`);
      for (let i = 1; i < counts.length; i++) assert.ok(counts[i]! >= counts[i - 1]!, `requests_total went back: ${counts[i - 1]} → ${counts[i]}`);
      assert.deepEqual([...health].sort(), [200, 503]);
      await eventually(async () => (ep.recorder.inflight === 0 ? true : undefined), 10_000, 'in-flight back to 0');
      console.log(`nats outage: ${outcomes.length} requests, ${JSON.stringify(tally)}, ${counts.length} scrapes, slowest ${slowest} ms`);
    } finally {
      running = false;
      await client.close();
      await clientRt.shutdown();
      await server.shutdown();
      await nats.stop();
    }
  });
});
