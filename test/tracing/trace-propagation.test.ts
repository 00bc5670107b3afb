/**
 * One trace across two hops of the request plane, with a real nats-server and the OpenTelemetry
 * trace SDK: caller → instance A → (A's handler calls) endpoint B, served by two instances in one
 * queue group. Every runtime has its own tracer provider and in-memory exporter, as separate
 * processes would; the context manager and the W3C propagator are the process's globals.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { DistributedRuntime, DynamoError, ErrorCode, type EndpointClient, type RequestContext } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { onNats } from '../helpers/runtime.ts';
import { inMemoryTracing, installTraceGlobals, type TestTracing } from '../helpers/tracing.ts';
import { waitFor } from '../helpers/wait.ts';

installTraceGlobals();

const NS = 'trace_ns';
const COMP = 'trace_comp';

/** A remote parent as an upstream service would send it: sampled, with tracestate, and a baggage entry. */
function upstream(traceId: string, spanId: string): Context {
  const withSpan = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: TraceFlags.SAMPLED, traceState: new TraceState('vendor=abc,other=x1'), isRemote: true });
  return propagation.setBaggage(withSpan, propagation.createBaggage({ tenant: { value: 'acme corp' } }));
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

interface Seen {
  instance: string;
  baggage: string | undefined;
  tracestate: string | undefined;
  activeSpanId: string | undefined;
  traceparent: string | undefined;
  tag: string | undefined;
}

describe('trace context across the request plane', () => {
  let nats: NatsServer;
  const tracing: Record<'caller' | 'a' | 'b1' | 'b2', TestTracing> = { caller: inMemoryTracing(), a: inMemoryTracing(), b1: inMemoryTracing(), b2: inMemoryTracing() };
  const runtimes: DistributedRuntime[] = [];
  let caller: EndpointClient;
  let bDirect: EndpointClient;
  const seenA: Array<{ activeSpanId: string | undefined }> = [];

  before(async () => {
    nats = await startNatsServer();
    const rt = async (t: TestTracing): Promise<DistributedRuntime> => {
      const runtime = await DistributedRuntime.create({ ...onNats(nats.url), tracerProvider: t.provider });
      runtimes.push(runtime);
      return runtime;
    };
    const [rtCaller, rtA, rtB1, rtB2] = [await rt(tracing.caller), await rt(tracing.a), await rt(tracing.b1), await rt(tracing.b2)];
    for (const [runtime] of [[rtB1], [rtB2]] as const) {
      await runtime.namespace(NS).component(COMP).endpoint('b').serve(async function* (request: string, ctx: RequestContext) {
        if (request === 'fail') throw new Error('b failed on purpose');
        if (request === 'hang') {
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
          return;
        }
        const active = context.active();
        const seen: Seen = {
          instance: ctx.instanceId,
          baggage: propagation.getBaggage(active)?.getEntry('tenant')?.value,
          tracestate: trace.getSpan(active)?.spanContext().traceState?.serialize(),
          activeSpanId: trace.getSpan(active)?.spanContext().spanId,
          traceparent: ctx.headers.get('traceparent'),
          tag: ctx.headers.get('x-tag'),
        };
        yield seen;
      });
    }
    const toB = await rtA.namespace(NS).component(COMP).endpoint('b').client();
    await toB.waitForInstances({ count: 2 });
    await rtA.namespace(NS).component(COMP).endpoint('a').serve(async function* (request: string, ctx: RequestContext) {
      seenA.push({ activeSpanId: trace.getSpan(context.active())?.spanContext().spanId });
      // A hop of its own: the active context (A's server span, the caller's baggage) goes along.
      for await (const r of toB.generate(request, { headers: { 'x-tag': ctx.headers.get('x-tag') ?? 'none' } })) yield r;
    });
    caller = await rtCaller.namespace(NS).component(COMP).endpoint('a').client();
    await caller.waitForInstances();
    bDirect = await rtCaller.namespace(NS).component(COMP).endpoint('b').client({ router: 'random' });
    await bDirect.waitForInstances({ count: 2 });
  });

  after(async () => {
    for (const runtime of runtimes) await runtime.shutdown();
    await nats.stop();
  });

  const reset = (): void => {
    for (const t of Object.values(tracing)) t.exporter.reset();
    seenA.length = 0;
  };
  const bSpans = (): ReadableSpan[] => [...tracing.b1.spans(), ...tracing.b2.spans()];

  it('makes one trace, parent to child across both hops, with tracestate and baggage intact in B', async () => {
    reset();
    const traceId = hex(0xabc, 32);
    const parentId = hex(0x123, 16);
    const out = (await caller.generate('hello', { context: upstream(traceId, parentId), headers: { 'x-tag': 'first' } }).collect()) as Seen[];
    assert.equal(out.length, 1);
    const seen = out[0]!;

    await waitFor(() => bSpans().length === 1 && tracing.a.spans().length === 2 && tracing.caller.spans().length === 1, { what: 'all four spans ended' });
    const [clientSpan] = tracing.caller.spans();
    const aServer = tracing.a.spans().find((s) => s.kind === SpanKind.SERVER)!;
    const aClient = tracing.a.spans().find((s) => s.kind === SpanKind.CLIENT)!;
    const [bServer] = bSpans();

    for (const span of [clientSpan!, aServer, aClient, bServer!]) assert.equal(span.spanContext().traceId, traceId);
    assert.equal(clientSpan!.kind, SpanKind.CLIENT);
    assert.equal(clientSpan!.parentSpanContext?.spanId, parentId);
    assert.equal(aServer.parentSpanContext?.spanId, clientSpan!.spanContext().spanId);
    assert.equal(aServer.parentSpanContext?.isRemote, true);
    assert.equal(aClient.parentSpanContext?.spanId, aServer.spanContext().spanId);
    assert.equal(bServer!.kind, SpanKind.SERVER);
    assert.equal(bServer!.parentSpanContext?.spanId, aClient.spanContext().spanId);

    // The handlers ran inside their SERVER spans.
    assert.deepEqual(seenA, [{ activeSpanId: aServer.spanContext().spanId }]);
    assert.equal(seen.activeSpanId, bServer!.spanContext().spanId);
    // What arrived in B: the caller's tracestate and baggage, A's client span as parent, A's header.
    assert.equal(seen.tracestate, 'vendor=abc,other=x1');
    assert.equal(seen.baggage, 'acme corp');
    assert.equal(seen.traceparent, `00-${traceId}-${aClient.spanContext().spanId}-01`);
    assert.equal(seen.tag, 'first');
    assert.equal(bServer!.attributes['dynamo.instance'], seen.instance);

    // Names and attributes after the RPC conventions.
    assert.equal(aServer.name, `${NS}.${COMP}/a`);
    assert.deepEqual(
      { ...aServer.attributes, 'dynamo.instance': 'x', 'dynamo.request_id': 'x' },
      {
        'rpc.system.name': 'dynamo',
        'rpc.method': `${NS}.${COMP}/a`,
        'server.address': `dynamo.${NS}.${COMP}.a`,
        'dynamo.namespace': NS,
        'dynamo.component': COMP,
        'dynamo.endpoint': 'a',
        'dynamo.instance': 'x',
        'dynamo.request_id': 'x',
      },
    );
    assert.equal(aServer.attributes['dynamo.instance'], runtimes[1]!.instanceId);
    assert.equal(bServer!.name, `${NS}.${COMP}/b`);
    assert.equal(clientSpan!.attributes['dynamo.request_id'], aServer.attributes['dynamo.request_id']);
    for (const span of [clientSpan!, aServer, aClient, bServer!]) {
      assert.equal(span.status.code, SpanStatusCode.UNSET);
      assert.deepEqual(span.events.map((e) => e.name), ['dynamo.first_response']);
    }
    // The server span covers the stream: it ends after its first response, and contains its child hop.
    // Compared by the order the spans ended in (the exporter gets each span as it ends), not by their
    // end times: the SDK anchors each span's clock on a whole-millisecond Date.now() at its start, so
    // two spans' times can disagree by up to a millisecond and a child ending just before its parent
    // could read as ending after it.
    assert.deepEqual(tracing.a.spans().map((s) => s.kind), [SpanKind.CLIENT, SpanKind.SERVER]);
  });

  it('keeps 1000 of 1000 requests in their trace with random routing over both instances of B', async () => {
    reset();
    const N = 1000;
    const sent: string[] = [];
    for (let i = 0; i < N; i++) {
      const traceId = hex(i + 1, 32);
      sent.push(traceId);
      await bDirect.generate(`r${i}`, { context: upstream(traceId, hex(i + 1, 16)) }).collect();
    }
    await waitFor(() => bSpans().length === N && tracing.caller.spans().length === N, { what: `${N} spans on each side`, timeoutMs: 30_000 });
    const clientById = new Map(tracing.caller.spans().map((s) => [s.spanContext().spanId, s]));
    let linked = 0;
    for (const server of bSpans()) {
      const parent = clientById.get(server.parentSpanContext?.spanId ?? '');
      if (parent !== undefined && parent.spanContext().traceId === server.spanContext().traceId && sent.includes(server.spanContext().traceId)) linked++;
    }
    assert.equal(linked, N);
    assert.equal(new Set(bSpans().map((s) => s.spanContext().traceId)).size, N);
    // Both instances served (a random router over two instances, 1000 times).
    assert.ok(tracing.b1.spans().length > 0 && tracing.b2.spans().length > 0, `b1 ${tracing.b1.spans().length}, b2 ${tracing.b2.spans().length}`);
  });

  it('sets ERROR status and error.type on both sides when the handler fails, as errors_total counts it', async () => {
    reset();
    const errorsBefore = runtimes.slice(2).map((r) => r.namespace(NS).component(COMP).endpoint('b').recorder.errorCount('generate'));
    await assert.rejects(bDirect.generate('fail', { context: upstream(hex(0xfa11, 32), hex(1, 16)) }).collect(), { code: ErrorCode.Remote });
    await waitFor(() => bSpans().length === 1 && tracing.caller.spans().length === 1, { what: 'both spans ended' });
    const [server] = bSpans();
    const [client] = tracing.caller.spans();
    assert.deepEqual(server!.status, { code: SpanStatusCode.ERROR, message: 'generate' });
    assert.equal(server!.attributes['error.type'], 'generate');
    assert.deepEqual(client!.status, { code: SpanStatusCode.ERROR, message: 'generate' });
    assert.equal(client!.attributes['error.type'], 'generate');
    const errorsAfter = runtimes.slice(2).map((r) => r.namespace(NS).component(COMP).endpoint('b').recorder.errorCount('generate'));
    assert.equal(errorsAfter[0]! + errorsAfter[1]! - errorsBefore[0]! - errorsBefore[1]!, 1);
  });

  it('records a cancellation as a cancellation, not an error, on both sides', async () => {
    reset();
    const errorsBefore = runtimes.slice(2).map((r) => r.namespace(NS).component(COMP).endpoint('b').recorder.errors.reduce((a, b) => a + b, 0));
    const abort = new AbortController();
    const stream = bDirect.generate('hang', { context: upstream(hex(0xca9, 32), hex(2, 16)), signal: abort.signal });
    // Cancel once the handler runs (its instance is known once the request is taken).
    await waitFor(() => runtimes.slice(2).some((r) => r.namespace(NS).component(COMP).endpoint('b').recorder.inflight === 1), { what: 'the request in flight on B' });
    abort.abort();
    await assert.rejects(stream.collect(), (err: unknown) => err instanceof DynamoError && err.code === ErrorCode.Cancelled);
    await waitFor(() => bSpans().length === 1 && tracing.caller.spans().length === 1, { what: 'both spans ended' });
    for (const span of [bSpans()[0]!, tracing.caller.spans()[0]!]) {
      assert.deepEqual(span.status, { code: SpanStatusCode.UNSET });
      assert.equal(span.attributes['dynamo.cancellation.reason'], 'client');
      assert.equal(span.attributes['error.type'], undefined);
    }
    const errorsAfter = runtimes.slice(2).map((r) => r.namespace(NS).component(COMP).endpoint('b').recorder.errors.reduce((a, b) => a + b, 0));
    assert.deepEqual(errorsAfter, errorsBefore);
  });
});
