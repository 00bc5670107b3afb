import { hrTime } from '@opentelemetry/core';
import { DynamoError, ErrorCode } from '../errors.ts';
import { validateBuckets } from '../metrics/buckets.ts';
import { validateLabelName } from '../metrics/custom-metrics.ts';
import { EndpointRecorder } from '../metrics/endpoint-recorder.ts';
import { Label } from '../metrics/names.ts';
import type { Component } from './component.ts';
import type { RuntimeContext } from './context.ts';
import { MetricsNode } from './metrics-node.ts';
import { validateName } from './names.ts';
import { VERSION } from '../version.ts';

export interface EndpointOptions {
  /** Constant labels added to every series of this endpoint (automatic and custom). Default none. */
  labels?: Readonly<Record<string, string>>;
  /** Duration histogram buckets in seconds. Default: `DYN_METRICS_DURATION_BUCKETS`, else the package default. */
  durationBuckets?: readonly number[];
}

/**
 * An addressable handler inside a component, labelled `dynamo_endpoint`. Its automatic metrics
 * live in `recorder`, bound once here so the request path only does arithmetic.
 */
export class Endpoint extends MetricsNode {
  readonly name: string;
  readonly component: Component;
  /** `namespace/component/endpoint`. */
  readonly path: string;
  /** The hot-path recording API the request plane calls. */
  readonly recorder: EndpointRecorder;
  private readonly optionsKey: string;
  private metricsStarted = false;
  private servingState = false;

  /** @internal Use `component.endpoint(name)`. */
  constructor(ctx: RuntimeContext, component: Component, name: string, options: EndpointOptions) {
    validateName('endpoint', name);
    const labels = checkLabels(options.labels ?? {}, `endpoint ${name}`);
    const buckets = options.durationBuckets === undefined ? [...ctx.durationBuckets] : validateBuckets(options.durationBuckets, `endpoint ${name} durationBuckets`);
    const namespace = component.namespace.name;
    super(ctx, [namespace, component.name, name], {
      ...labels,
      [Label.Namespace]: namespace,
      [Label.Component]: component.name,
      [Label.Endpoint]: name,
    });
    this.name = name;
    this.component = component;
    this.path = `${namespace}/${component.name}/${name}`;
    this.recorder = new EndpointRecorder(this.attributes, buckets, ctx.logger);
    this.optionsKey = optionsKey(labels, buckets);
  }

  /** Whether the endpoint has ever started serving (its series are exported). */
  get started(): boolean {
    return this.metricsStarted;
  }

  /** Whether the endpoint is currently taking requests. */
  get serving(): boolean {
    return this.servingState;
  }

  /**
   * Marks the endpoint serving (or not). The first time, its automatic series start being
   * exported — all six `error_type` series at 0 — so `rate()` works from the first scrape.
   */
  setServing(serving: boolean): void {
    if (serving && !this.metricsStarted) {
      this.metricsStarted = true;
      this.recorder.startTime = hrTime();
      this.ctx.pipeline.endpointProducer.add({ name: this.scopeName, version: VERSION }, this.recorder);
    }
    this.servingState = serving;
  }

  /** @internal */
  assertSameOptions(options: EndpointOptions): void {
    const labels = checkLabels(options.labels ?? {}, `endpoint ${this.name}`);
    const buckets = options.durationBuckets === undefined ? [...this.ctx.durationBuckets] : validateBuckets(options.durationBuckets, `endpoint ${this.name}`);
    if (optionsKey(labels, buckets) !== this.optionsKey) {
      throw new DynamoError(ErrorCode.EndpointConflict, `endpoint ${this.path} already exists with different labels or buckets`);
    }
  }
}

function checkLabels(labels: Readonly<Record<string, string>>, where: string): Record<string, string> {
  if (labels === null || typeof labels !== 'object') throw new DynamoError(ErrorCode.InvalidLabel, `${where}: labels must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    validateLabelName(key, where);
    if (typeof value !== 'string') {
      throw new DynamoError(ErrorCode.InvalidLabel, `${where}: label ${key} must have a string value, got ${typeof value}`);
    }
    out[key] = value;
  }
  return out;
}

function optionsKey(labels: Record<string, string>, buckets: readonly number[]): string {
  return JSON.stringify([Object.entries(labels).sort(), buckets]);
}
