/**
 * The tracers of one endpoint, bound once when it serves or gets a client: the span name and the
 * attributes every span of it starts with are built here, not per request.
 */
import type { TracerProvider } from '@opentelemetry/api';
import { VERSION } from '../version.ts';
import { EndpointClientTracer } from './client-tracer.ts';
import { Attr, RPC_SYSTEM, rpcMethod } from './semconv.ts';
import { EndpointServerTracer, type EndpointSpanNames } from './server-tracer.ts';
import { unconfiguredCheck } from './unconfigured.ts';

/** The instrumentation scope of every span this package makes. */
export const TRACER_NAME = 'dynamo-otel';

export interface EndpointPath {
  readonly namespace: string;
  readonly component: string;
  readonly endpoint: string;
  /** The endpoint's NATS subject: `server.address` of its spans. */
  readonly subject: string;
}

function names(path: EndpointPath, instanceId?: string): EndpointSpanNames {
  const method = rpcMethod(path.namespace, path.component, path.endpoint);
  return {
    method,
    attributes: Object.freeze({
      [Attr.RpcSystemName]: RPC_SYSTEM,
      [Attr.RpcMethod]: method,
      [Attr.ServerAddress]: path.subject,
      [Attr.Namespace]: path.namespace,
      [Attr.Component]: path.component,
      [Attr.Endpoint]: path.endpoint,
      ...(instanceId === undefined ? {} : { [Attr.Instance]: instanceId }),
    }),
  };
}

/** The SERVER spans of an endpoint served by instance `instanceId`. */
export function serverTracer(provider: TracerProvider, path: EndpointPath, instanceId: string): EndpointServerTracer {
  return new EndpointServerTracer(provider.getTracer(TRACER_NAME, VERSION), names(path, instanceId), unconfiguredCheck(provider));
}

/** The CLIENT spans of calls to an endpoint. */
export function clientTracer(provider: TracerProvider, path: EndpointPath): EndpointClientTracer {
  return new EndpointClientTracer(provider.getTracer(TRACER_NAME, VERSION), names(path), unconfiguredCheck(provider));
}
