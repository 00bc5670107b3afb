/**
 * Span names and attributes after OpenTelemetry's RPC semantic conventions (the stable
 * `rpc.system.name`/`rpc.method` generation, semantic-conventions 1.38 and later), plus this
 * package's `dynamo.*` attributes. Spelled here once rather than imported: the values are the
 * contract, and `@opentelemetry/semantic-conventions` is not a dependency.
 */
export const Attr = {
  RpcSystemName: 'rpc.system.name',
  /** Fully qualified: `<namespace>.<component>/<endpoint>`. Also the span name. */
  RpcMethod: 'rpc.method',
  ServerAddress: 'server.address',
  ErrorType: 'error.type',
  Namespace: 'dynamo.namespace',
  Component: 'dynamo.component',
  Endpoint: 'dynamo.endpoint',
  /** The instance serving (server span), or the one the request was routed to (client span, when known). */
  Instance: 'dynamo.instance',
  RequestId: 'dynamo.request_id',
  /** `client`, `stall` or `shutdown`: the request was cancelled, which is not an error. */
  CancellationReason: 'dynamo.cancellation.reason',
} as const;

/** `rpc.system.name` of every span this package makes. */
export const RPC_SYSTEM = 'dynamo';

/** The span event marking the first response (published by the server, received by the caller). */
export const FIRST_RESPONSE_EVENT = 'dynamo.first_response';

/** `rpc.method` and the span name of an endpoint. */
export function rpcMethod(namespace: string, component: string, endpoint: string): string {
  return `${namespace}.${component}/${endpoint}`;
}
