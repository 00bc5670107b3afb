import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CANCEL_REASONS, DistributedRuntime, ERROR_TYPES, ErrorCode, RemoteError, DynamoError } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { exportedValue, startHttpReceiver, type Export, type Receiver } from '../helpers/otlp-receiver.ts';
import { scrapeEndpoint, STATUS_SERVER_ENV } from '../helpers/scrape.ts';
import { waitFor, waitForValue, withDeadline } from '../helpers/wait.ts';

// What these tests read is what users read: /metrics while the runtime runs, and the final OTLP
// export that shutdown flushes (after it, /metrics is gone with the status server).

/** The one export a runtime with a 10-minute interval sends: the final flush at shutdown. */
function finalExport(receiver: Receiver): Export {
  assert.equal(receiver.exports.length, 1, 'exactly one export, the final flush');
  return receiver.exports[0]!;
}

describe('graceful shutdown', () => {
  let nats: NatsServer;
  let receiver: Receiver;
  before(async () => {
    nats = await startNatsServer();
  });
  after(() => nats.stop());

  const startRuntimes = async (options: { shutdownGraceMs?: number } = {}) => {
    receiver = await startHttpReceiver();
    const serverEnv = { NATS_SERVER: nats.url, ...STATUS_SERVER_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '600000' };
    const server = await DistributedRuntime.create({ env: serverEnv, handleSignals: false, logSink: () => {}, ...options });
    const clientRt = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
    return { server, clientRt, port: server.systemPort! };
  };

  it('finishes every accepted request, then refuses new ones with a clean error', async () => {
    const { server, clientRt, port } = await startRuntimes();
    try {
      const ep = server.namespace('ns').component('c').endpoint('slow');
      // Every request waits at a gate the test opens, then streams 5 pieces: all 20 are in flight
      // at once however slow the machine, and each still has work left when shutdown begins.
      let openGate!: () => void;
      const gate = new Promise<void>((resolve) => (openGate = resolve));
      await ep.serve(async function* (req: number) {
        await gate;
        for (let i = 0; i < 5; i++) {
          await new Promise((r) => setTimeout(r, 40));
          yield req * 10 + i;
        }
      });
      const client = await clientRt.namespace('ns').component('c').endpoint('slow').client();
      await client.waitForInstances();
      const L = { dynamo_endpoint: 'slow' };
      const pending = Array.from({ length: 20 }, (_, i) => client.generate<number>(i).collect());
      await waitForValue(async () => {
        const v = await scrapeEndpoint(port, L);
        return { requests: v.requests, inflight: v.inflight };
      }, { requests: 20, inflight: 20 }, { what: 'all 20 requests in flight on /metrics' });

      const closing = server.shutdown();
      await waitFor(() => server.health().endpoints['ns/c/slow'], { what: 'the endpoint to stop taking requests', until: (state) => state === 'not_serving' });
      openGate();
      await withDeadline(closing, 'shutdown with 20 requests in flight');
      const results = await Promise.all(pending);
      assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => [0, 1, 2, 3, 4].map((k) => i * 10 + k)));
      const last = finalExport(receiver);
      assert.equal(exportedValue(last, 'dynamo_component_requests_total', L).value, 20);
      assert.equal(exportedValue(last, 'dynamo_component_inflight_requests', L).value, 0);
      assert.equal(exportedValue(last, 'dynamo_component_request_duration_seconds', L).count, 20);
      for (const errorType of ['generate', 'publish_response', 'publish_final']) {
        assert.equal(exportedValue(last, 'dynamo_component_errors_total', { ...L, error_type: errorType }).value, 0, errorType);
      }
      await assert.rejects(client.generate(99).collect(), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.NoResponders);
      await client.close();
    } finally {
      await clientRt.shutdown();
      await server.shutdown();
      await receiver.stop();
    }
  });

  it('aborts what outlives the grace period: the client gets shutting_down, counted as a shutdown cancellation and no error', async () => {
    const { server, clientRt, port } = await startRuntimes({ shutdownGraceMs: 200 });
    try {
      const ep = server.namespace('ns').component('c').endpoint('stuck');
      let aborted = 0;
      await ep.serve(async function* (_req: unknown, ctx) {
        ctx.signal.addEventListener('abort', () => aborted++);
        yield 'started';
        await new Promise(() => {});
      });
      const client = await clientRt.namespace('ns').component('c').endpoint('stuck').client();
      await client.waitForInstances();
      const L = { dynamo_endpoint: 'stuck' };
      const stream = client.generate<string>('x');
      assert.deepEqual(await stream.next(), { value: 'started', done: false });
      assert.equal((await scrapeEndpoint(port, L)).inflight, 1);
      // The handler never ends by itself: shutdown returning at all is the grace period at work.
      await withDeadline(server.shutdown(), 'shutdown of a handler that never ends (grace 200 ms)');
      await assert.rejects(stream.next(), (e: unknown) => e instanceof RemoteError && e.errorType === 'shutting_down');
      assert.equal(aborted, 1);
      const last = finalExport(receiver);
      assert.equal(exportedValue(last, 'dynamo_component_requests_total', L).value, 1);
      assert.equal(exportedValue(last, 'dynamo_component_inflight_requests', L).value, 0);
      for (const error_type of ERROR_TYPES) assert.equal(exportedValue(last, 'dynamo_component_errors_total', { ...L, error_type }).value, 0, error_type);
      assert.deepEqual(CANCEL_REASONS.map((reason) => exportedValue(last, 'dynamo_component_cancellation_total', { ...L, reason }).value), [0, 0, 1]);
      assert.equal(exportedValue(last, 'dynamo_component_request_duration_seconds', L).count, 1);
      assert.equal(exportedValue(last, 'dynamo_component_responses_total', L).value, 1);
      assert.equal(exportedValue(last, 'dynamo_component_time_to_first_response_seconds', L).count, 1);
      await client.close();
    } finally {
      await clientRt.shutdown();
      await server.shutdown();
      await receiver.stop();
    }
  });
});
