import { Label } from '../metrics/names.ts';
import { Component } from './component.ts';
import type { RuntimeContext } from './context.ts';
import { MetricsNode } from './metrics-node.ts';
import { validateName } from './names.ts';

/** The top of the hierarchy: a group of components, labelled `dynamo_namespace`. */
export class Namespace extends MetricsNode {
  /** The namespace's name, its `dynamo_namespace` label. */
  readonly name: string;
  private readonly components = new Map<string, Component>();

  /** @internal Use `runtime.namespace(name)`. */
  constructor(ctx: RuntimeContext, name: string) {
    validateName('namespace', name);
    super(ctx, [name], { [Label.Namespace]: name });
    this.name = name;
  }

  /** Returns the component of this name, creating it on first use. */
  component(name: string): Component {
    this.ctx.assertOpen();
    let component = this.components.get(name);
    if (component === undefined) {
      component = new Component(this.ctx, this, name);
      this.components.set(name, component);
    }
    return component;
  }
}
