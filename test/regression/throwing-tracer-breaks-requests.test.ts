/**
 * Regression: a tracer provider that throws (a broken SDK, a span processor that throws on end)
 * made the request that met it fail — or, when the server's span could not start, left the request
 * counted in flight forever with no answer. Tracing is advice: a request is served whatever the
 * tracer does, and in-flight returns to 0.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Span, Tracer, TracerProvider } from '@opentelemetry/api';
import { DistributedRuntime } from '../../src/index.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { onNats } from '../helpers/runtime.ts';
import { inMemoryTracing, installTraceGlobals } from '../helpers/tracing.ts';
import { waitFor } from '../helpers/wait.ts';

installTraceGlobals();

/** Wraps a working provider; `broken` says which call throws. */
function breaking(broken: 'startSpan' | 'end' | 'addEvent'): TracerProvider {
  const real = inMemoryTracing().provider;
  return {
    getTracer(name, version) {
      const tracer = real.getTracer(name, version);
      const wrapped: Partial<Tracer> = {
        startSpan(spanName, options, ctx) {
          if (broken === 'startSpan') throw new Error('tracer broken');
          const span = tracer.startSpan(spanName, options, ctx);
          return new Proxy(span, {
            get(target, prop, receiver) {
              if (prop === broken) return () => {
                throw new Error(`span.${String(prop)} broken`);
              };
              const value = Reflect.get(target, prop, receiver) as unknown;
              return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
            },
          }) as Span;
        },
      };
      return wrapped as Tracer;
    },
  };
}

describe('regression: a throwing tracer never breaks a request', () => {
  for (const broken of ['startSpan', 'end', 'addEvent'] as const) {
    it(`serves every request when ${broken} throws, and in-flight returns to 0`, async () => {
      const nats = await startNatsServer();
      const rt = await DistributedRuntime.create({ ...onNats(nats.url), tracerProvider: breaking(broken) });
      try {
        const ep = rt.namespace('brk_ns').component('brk_comp').endpoint('echo');
        await ep.serve(async function* (req: string) {
          yield req;
          yield req;
        });
        const client = await ep.client();
        await client.waitForInstances();
        for (let i = 0; i < 3; i++) assert.deepEqual(await client.generate('x', { timeoutMs: 5000 }).collect(), ['x', 'x']);
        await waitFor(() => ep.recorder.inflight === 0, { what: 'in-flight back to 0' });
        assert.equal(ep.recorder.requests, 3);
        assert.equal(ep.recorder.errors.reduce((a, b) => a + b, 0), 0);
        await client.close();
      } finally {
        await rt.shutdown();
        await nats.stop();
      }
    });
  }
});
