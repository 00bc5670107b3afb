/**
 * Without any OpenTelemetry SDK in the process (nothing registered with the API), tracing is
 * absent from the wire and from the handler: the request carries the protocol's headers only, the
 * handler sees no span, and no exemplar is kept. An SDK registered later, while the runtime
 * serves, traces the very next request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { DistributedRuntime, ExpositionFormat, type RequestContext } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { onNats } from '../helpers/runtime.ts';
import { inMemoryTracing } from '../helpers/tracing.ts';
import { waitFor } from '../helpers/wait.ts';

describe('tracing with no SDK registered', () => {
  let nats: NatsServer;
  let rt: DistributedRuntime;

  before(async () => {
    nats = await startNatsServer();
    rt = await DistributedRuntime.create(onNats(nats.url));
  });

  after(async () => {
    await rt.shutdown();
    await nats.stop();
  });

  it('sends no trace headers, runs the handler in no span and keeps no exemplar', async () => {
    const endpoint = rt.namespace('plain_ns').component('plain_comp').endpoint('plain_ep');
    await endpoint.serve(async function* (_req: unknown, ctx: RequestContext) {
      yield { keys: [...ctx.headers.keys()].sort(), span: trace.getSpan(context.active()) === undefined ? 'none' : 'some' };
    });
    const client = await endpoint.client();
    await client.waitForInstances();
    assert.deepEqual(await client.generate('x').collect(), [
      { keys: ['Dynamo-Content-Type', 'Dynamo-Key', 'Dynamo-Protocol', 'Dynamo-Request-Id', 'Dynamo-Window'], span: 'none' },
    ]);
    assert.equal(endpoint.recorder.durationExemplars.snapshot(), undefined);
    const om = await rt.prometheusReader.scrape(ExpositionFormat.OpenMetrics);
    assert.ok(!om.includes('trace_id'));
    assert.ok(om.endsWith('# EOF\n'));
    await client.close();
  });

  it('traces the next request once an SDK is registered, without a restart', async () => {
    const endpoint = rt.namespace('plain_ns').component('plain_comp').endpoint('late_ep');
    await endpoint.serve((_req: unknown, ctx: RequestContext) => ({ traceparent: ctx.headers.get('traceparent') ?? 'none', span: trace.getSpan(context.active())?.spanContext().spanId ?? 'none' }));
    const client = await endpoint.client();
    await client.waitForInstances();
    assert.deepEqual(await client.generate('x').collect(), [{ traceparent: 'none', span: 'none' }]);
    // what an SDK's start registers: a context manager, a tracer provider, a propagator
    const tracing = inMemoryTracing();
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(tracing.provider);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    try {
      const [seen] = (await client.generate('y').collect()) as Array<{ traceparent: string; span: string }>;
      const spans = await waitFor(() => tracing.spans(), { what: 'a client and a server span', until: (s) => s.length === 2 });
      const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
      const callerSpan = spans.find((s) => s.kind === SpanKind.CLIENT)!;
      assert.equal(seen!.span, server.spanContext().spanId);
      assert.equal(seen!.traceparent, `00-${callerSpan.spanContext().traceId}-${callerSpan.spanContext().spanId}-01`);
      assert.equal(server.parentSpanContext?.spanId, callerSpan.spanContext().spanId);
    } finally {
      trace.disable();
      propagation.disable();
      context.disable();
    }
    // unregistered again: no context reaches the handler or the wire
    assert.deepEqual(await client.generate('z').collect(), [{ traceparent: 'none', span: 'none' }]);
    await client.close();
  });
});
