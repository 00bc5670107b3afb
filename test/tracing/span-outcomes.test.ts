/**
 * The rest of the span classification, each path as the metrics count it: a client timeout is an
 * error for the caller and a client cancellation for the instance; an instance shutting down under
 * a running stream is a `shutdown` cancellation on both sides.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import { DistributedRuntime, ErrorCode, type RequestContext } from '../../src/index.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { onNats } from '../helpers/runtime.ts';
import { inMemoryTracing, installTraceGlobals } from '../helpers/tracing.ts';
import { waitFor } from '../helpers/wait.ts';

installTraceGlobals();

describe('span status on timeouts and shutdown', () => {
  it('timeout: ERROR DYN_ERR_TIMEOUT for the caller, a client cancellation for the instance', async () => {
    const nats = await startNatsServer();
    const server = inMemoryTracing();
    const caller = inMemoryTracing();
    const rtServer = await DistributedRuntime.create({ ...onNats(nats.url), tracerProvider: server.provider });
    const rtCaller = await DistributedRuntime.create({ ...onNats(nats.url), tracerProvider: caller.provider });
    try {
      const ep = rtServer.namespace('out_ns').component('out_comp').endpoint('slow');
      await ep.serve(async (_req: unknown, ctx: RequestContext) => {
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        return 'late';
      });
      const client = await rtCaller.namespace('out_ns').component('out_comp').endpoint('slow').client();
      await client.waitForInstances();
      await assert.rejects(client.generate('x', { timeoutMs: 200 }).collect(), { code: ErrorCode.Timeout });
      const [clientSpan] = await waitFor(() => caller.spans(), { what: 'the client span', until: (s) => s.length === 1 });
      const [serverSpan] = await waitFor(() => server.spans(), { what: 'the server span', until: (s) => s.length === 1 });
      assert.deepEqual(clientSpan!.status, { code: SpanStatusCode.ERROR, message: ErrorCode.Timeout });
      assert.equal(clientSpan!.attributes['error.type'], ErrorCode.Timeout);
      assert.deepEqual(serverSpan!.status, { code: SpanStatusCode.UNSET });
      assert.equal(serverSpan!.attributes['dynamo.cancellation.reason'], 'client');
      assert.equal(ep.recorder.errors.reduce((a, b) => a + b, 0), 0);
    } finally {
      await rtCaller.shutdown();
      await rtServer.shutdown();
      await nats.stop();
    }
  });

  it('shutdown: a shutdown cancellation on both sides, not an error', async () => {
    const nats = await startNatsServer();
    const server = inMemoryTracing();
    const caller = inMemoryTracing();
    const rtServer = await DistributedRuntime.create({ ...onNats(nats.url), tracerProvider: server.provider, shutdownGraceMs: 300 });
    const rtCaller = await DistributedRuntime.create({ ...onNats(nats.url), tracerProvider: caller.provider });
    try {
      const ep = rtServer.namespace('out_ns').component('out_comp').endpoint('stuck');
      // A handler that ignores its signal: the grace period runs out.
      await ep.serve(() => new Promise(() => {}));
      const client = await rtCaller.namespace('out_ns').component('out_comp').endpoint('stuck').client();
      await client.waitForInstances();
      const stream = client.generate('x');
      await waitFor(() => ep.recorder.inflight === 1, { what: 'the request in flight' });
      await rtServer.shutdown();
      await assert.rejects(stream.collect(), (err: unknown) => (err as { errorType?: string }).errorType === 'shutting_down');
      const [clientSpan] = await waitFor(() => caller.spans(), { what: 'the client span', until: (s) => s.length === 1 });
      const [serverSpan] = await waitFor(() => server.spans(), { what: 'the server span', until: (s) => s.length === 1 });
      for (const span of [clientSpan!, serverSpan!]) {
        assert.deepEqual(span.status, { code: SpanStatusCode.UNSET });
        assert.equal(span.attributes['dynamo.cancellation.reason'], 'shutdown');
      }
    } finally {
      await rtCaller.shutdown();
      await rtServer.shutdown();
      await nats.stop();
    }
  });
});
