/**
 * Adapts a user's handler ("engine") for serving. Serving an ingress records the automatic
 * endpoint metrics with no code in the handler; `addMetrics` is only for custom metrics.
 */
import type { RequestContext } from '../transport/request-context.ts';
import type { Endpoint } from './endpoint.ts';

/** One request in; a value, a promise of one, or an async iterable (stream) of responses out. */
export type Handler<TRequest = unknown, TResponse = unknown> = (
  request: TRequest,
  ctx: RequestContext<Endpoint>,
) => AsyncIterable<TResponse> | TResponse | Promise<TResponse | AsyncIterable<TResponse>>;

/** An object engine: `generate` is the handler; `addMetrics`, when present, creates its custom metrics on the endpoint. */
export interface Engine<TRequest = unknown, TResponse = unknown> {
  /** Serves one request. */
  generate: Handler<TRequest, TResponse>;
  /** Creates the engine's custom metrics on the endpoint; called by `ingress.addMetrics(endpoint)`. */
  addMetrics?(endpoint: Endpoint): void;
}

/** A handler ready to serve: `endpoint.serve(Ingress.forEngine(handler))`. */
export class Ingress<TRequest = unknown, TResponse = unknown> {
  /** @internal */
  readonly handler: Handler<TRequest, TResponse>;
  private readonly engine: Engine<TRequest, TResponse> | undefined;

  private constructor(handler: Handler<TRequest, TResponse>, engine: Engine<TRequest, TResponse> | undefined) {
    this.handler = handler;
    this.engine = engine;
  }

  /** Wraps a handler function or an engine object. Nothing else is needed for the automatic metrics. */
  static forEngine<TRequest, TResponse>(engine: Handler<TRequest, TResponse> | Engine<TRequest, TResponse>): Ingress<TRequest, TResponse> {
    if (typeof engine === 'function') return new Ingress(engine, undefined);
    if (engine !== null && typeof engine === 'object' && typeof engine.generate === 'function') {
      return new Ingress((request, ctx) => engine.generate(request, ctx), engine);
    }
    throw new TypeError('Ingress.forEngine expects a handler function or an object with a generate(request, ctx) method');
  }

  /**
   * Optional: attaches custom metrics in addition to the automatic ones — calls the engine's
   * `addMetrics(endpoint)` when it has one, so a metrics class built `fromEndpoint(endpoint)`
   * lives with the engine that records it.
   */
  addMetrics(endpoint: Endpoint): this {
    this.engine?.addMetrics?.(endpoint);
    return this;
  }
}
