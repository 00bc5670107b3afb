import { Label } from '../metrics/names.ts';
import type { RuntimeContext } from './context.ts';
import { Endpoint, type EndpointOptions } from './endpoint.ts';
import { MetricsNode } from './metrics-node.ts';
import type { Namespace } from './namespace.ts';
import { validateName } from './names.ts';

/** A service inside a namespace, labelled `dynamo_component`; it owns endpoints. */
export class Component extends MetricsNode {
  /** The component's name, its `dynamo_component` label. */
  readonly name: string;
  /** The namespace it belongs to. */
  readonly namespace: Namespace;
  private readonly endpoints = new Map<string, Endpoint>();

  /** @internal Use `namespace.component(name)`. */
  constructor(ctx: RuntimeContext, namespace: Namespace, name: string) {
    validateName('component', name);
    super(ctx, [namespace.name, name], { [Label.Namespace]: namespace.name, [Label.Component]: name });
    this.name = name;
    this.namespace = namespace;
  }

  /**
   * Returns the endpoint of this name, creating it on first use. Asking again with different
   * options is a `DYN_ERR_ENDPOINT_CONFLICT` error rather than a silent mismatch.
   */
  endpoint(name: string, options?: EndpointOptions): Endpoint {
    this.ctx.assertOpen();
    const existing = this.endpoints.get(name);
    if (existing !== undefined) {
      if (options !== undefined) existing.assertSameOptions(options);
      return existing;
    }
    const endpoint = new Endpoint(this.ctx, this, name, options ?? {});
    this.endpoints.set(name, endpoint);
    this.ctx.endpoints.set(endpoint.path, endpoint);
    return endpoint;
  }
}
