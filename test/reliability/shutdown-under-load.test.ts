import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { DistributedRuntime, DynamoError, ErrorCode, RemoteError } from '../../src/index.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { exportedValue, startHttpReceiver } from '../helpers/otlp-receiver.ts';
import { waitFor, withDeadline } from '../helpers/wait.ts';

describe('SIGTERM with 200 requests in flight', () => {
  it('completes every accepted request, flushes metrics, exits 0 within the grace period; later requests get a clean error', async () => {
    const nats = await startNatsServer();
    const receiver = await startHttpReceiver();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/slow-server.ts'], {
      cwd: new URL('../../', import.meta.url),
      env: {
        ...process.env,
        NATS_SERVER: nats.url,
        DYN_SYSTEM_ENABLED: 'true',
        DYN_SYSTEM_PORT: '0',
        DYN_SYSTEM_HOST: '127.0.0.1',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_METRIC_EXPORT_INTERVAL: '600000',
        GRACE_MS: '30000', // generous: the gate, not the clock, decides when requests finish
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const port = await new Promise<number>((resolve) => child.stdout.on('data', (d: Buffer) => {
      const m = /ready (\d+)/.exec(d.toString());
      if (m) resolve(Number(m[1]));
    }));
    const clientRt = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
    try {
      const client = await clientRt.namespace('ns').component('c').endpoint('slow').client({ timeoutMs: 10_000 });
      await client.waitForInstances();
      const inflightNow = async () => sampleValue(parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()), 'dynamo_component_inflight_requests', 'dynamo_component_inflight_requests', { dynamo_endpoint: 'slow' });
      const accepted = Array.from({ length: 200 }, (_, i) => client.generate<number>(i).collect());
      await waitFor(inflightNow, { what: '200 in flight on /metrics', until: (n) => n === 200 });

      child.kill('SIGTERM');
      // The late requests go out once shutdown has begun, which /health shows: the endpoint stops serving (503).
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status, { what: '/health 503 after SIGTERM', until: (status) => status === 503 });
      const lateOutcomes = Array.from({ length: 20 }, (_, i) =>
        client
          .generate<number>(1000 + i)
          .collect()
          .then((got) => (got.length === 5 ? 'completed' : `partial ${got.length}`))
          .catch((e: unknown) => (e instanceof RemoteError ? `remote ${e.errorType}` : e instanceof DynamoError ? e.code : `untyped ${String(e)}`)),
      );
      // Only now do the 200 accepted requests get to run: shutdown must wait for every one of them.
      child.kill('SIGUSR2');
      const late = await Promise.all(lateOutcomes);
      const results = await Promise.all(accepted);
      assert.deepEqual(results, Array.from({ length: 200 }, (_, i) => [0, 1, 2, 3, 4].map((k) => i * 10 + k)));
      const code = await withDeadline(exited, 'the server process exiting after SIGTERM');
      assert.equal(code, 0, stderr);
      // Within the grace period: had it run out, the server would have aborted requests and said so.
      assert.equal(stderr.includes('grace period over'), false, stderr);
      const lateKinds = new Set(late);
      for (const k of lateKinds) assert.ok(['completed', ErrorCode.NoResponders, 'remote shutting_down'].includes(k), `late request: ${k}`);
      const completedLate = late.filter((k) => k === 'completed').length;
      const last = receiver.exports.at(-1)!;
      assert.ok(last, 'the final export was flushed');
      const L = { dynamo_endpoint: 'slow' };
      const counted = exportedValue(last, 'dynamo_component_requests_total', L).value!;
      const refusedOnArrival = late.filter((k) => k === 'remote shutting_down').length;
      assert.equal(counted, 200 + completedLate + refusedOnArrival);
      assert.equal(exportedValue(last, 'dynamo_component_inflight_requests', L).value, 0);
      assert.equal(exportedValue(last, 'dynamo_component_request_duration_seconds', L).count, counted);
      console.log(`shutdown under load: 200 in flight at SIGTERM, all completed; exit 0; late requests: ${JSON.stringify([...lateKinds])}`);
      await client.close();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await clientRt.shutdown();
      await receiver.stop();
      await nats.stop();
    }
  });
});
