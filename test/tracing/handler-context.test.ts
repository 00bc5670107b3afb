/**
 * The handler runs inside its request's SERVER span whatever shape it has — a plain function, an
 * async one, a sync or an async generator with awaits between its responses — so spans the
 * application starts there are children of it. And a stream the server abandons because its
 * reader stopped acknowledging is a `stall` cancellation, not an error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { DistributedRuntime, type RequestContext } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { rawRequest } from '../helpers/raw-request.ts';
import { onNats } from '../helpers/runtime.ts';
import { inMemoryTracing, installTraceGlobals } from '../helpers/tracing.ts';
import { waitFor } from '../helpers/wait.ts';

installTraceGlobals();

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));
const active = (): string => trace.getSpan(context.active())?.spanContext().spanId ?? 'none';

describe('the handler in its SERVER span', () => {
  let nats: NatsServer;
  let rt: DistributedRuntime;
  const tracing = inMemoryTracing();

  before(async () => {
    nats = await startNatsServer();
    rt = await DistributedRuntime.create({ ...onNats(nats.url), tracerProvider: tracing.provider, streamStallTimeoutMs: 300 });
  });

  after(async () => {
    await rt.shutdown();
    await nats.stop();
  });

  it('keeps the span active in every kind of handler, and the application\'s spans nest under it', async () => {
    const tracer = tracing.provider.getTracer('app');
    const comp = rt.namespace('ctx_ns').component('ctx_comp');
    const handlers = {
      plain: () => [active()],
      asyncFn: async () => {
        await tick();
        return [active()];
      },
      syncGen: function* () {
        yield active();
        yield active();
      },
      asyncGen: async function* () {
        yield active();
        await tick();
        yield tracer.startActiveSpan('app-work', (span) => {
          span.end();
          return active();
        });
        await tick();
        yield active();
      },
    } as const;
    for (const [name, handler] of Object.entries(handlers)) {
      const ep = comp.endpoint(name);
      await ep.serve(handler as (req: unknown, ctx: RequestContext) => unknown);
      const client = await ep.client();
      await client.waitForInstances();
      tracing.exporter.reset();
      const out = (await client.generate('x').collect()).flat() as string[];
      const server = await waitFor(() => tracing.spans().find((s) => s.kind === SpanKind.SERVER), { what: `${name}'s server span` });
      const id = server.spanContext().spanId;
      if (name === 'asyncGen') {
        const work = tracing.spans().find((s) => s.name === 'app-work')!;
        assert.equal(work.parentSpanContext?.spanId, id);
        assert.deepEqual(out, [id, work.spanContext().spanId, id]);
      } else {
        assert.deepEqual(out, name === 'syncGen' ? [id, id] : [id], name);
      }
      await client.close();
    }
  });

  it('ends a stream abandoned by its reader as a stall cancellation', async () => {
    const ep = rt.namespace('ctx_ns').component('ctx_comp').endpoint('endless');
    await ep.serve(function* () {
      for (let i = 0; i < 10; i++) yield i;
    });
    tracing.exporter.reset();
    const raw = await connect({ servers: nats.url });
    try {
      // A window of one, never acknowledged: the server waits for credit, then gives up.
      const r = rawRequest(ep.subject, '"x"', { inbox: '_INBOX.stall', window: 1 });
      raw.publish(ep.subject, r.data, { reply: r.reply, headers: r.headers });
      const server = await waitFor(() => tracing.spans().find((s) => s.kind === SpanKind.SERVER), { what: 'the abandoned stream\'s span' });
      assert.deepEqual(server.status, { code: SpanStatusCode.UNSET });
      assert.equal(server.attributes['dynamo.cancellation.reason'], 'stall');
      assert.equal(ep.recorder.errors.reduce((a, b) => a + b, 0), 0);
    } finally {
      await raw.close();
    }
  });
});
