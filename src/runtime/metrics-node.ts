/**
 * The custom-metrics factory methods shared by namespaces, components and endpoints. Each node is
 * an OpenTelemetry instrumentation scope; what it creates carries the node's `dynamo_*` labels.
 */
import type { Attributes, Meter } from '@opentelemetry/api';
import {
  MetricKind,
  type Counter,
  type Gauge,
  type Histogram,
  type HistogramOptions,
  type MetricOptions,
  type MetricsScope,
  type Observable,
  type ObservableCallback,
  type UpDownCounter,
} from '../metrics/custom-metrics.ts';
import type { RuntimeContext } from './context.ts';

export abstract class MetricsNode {
  /** The instrumentation scope name of this node, e.g. `dynamo/ns/component/endpoint`. */
  readonly scopeName: string;
  /** The labels every metric of this node carries. */
  readonly attributes: Attributes;
  protected readonly ctx: RuntimeContext;
  private meterCache: Meter | undefined;

  protected constructor(ctx: RuntimeContext, path: readonly string[], attributes: Attributes) {
    this.ctx = ctx;
    this.scopeName = ['dynamo', ...path].join('/');
    this.attributes = Object.freeze({ ...attributes });
  }

  /** This node's OpenTelemetry meter, from the runtime's provider. */
  get meter(): Meter {
    this.meterCache ??= this.ctx.pipeline.meter(this.scopeName);
    return this.meterCache;
  }

  /** A monotonic counter, `dynamo_component_<name>_total`. */
  createCounter(options: MetricOptions): Counter {
    return this.create(MetricKind.Counter, options) as Counter;
  }

  /** A counter that goes up and down (rendered as a Prometheus gauge). */
  createUpDownCounter(options: MetricOptions): UpDownCounter {
    return this.create(MetricKind.UpDownCounter, options) as UpDownCounter;
  }

  /** A gauge set to the last value recorded. */
  createGauge(options: MetricOptions): Gauge {
    return this.create(MetricKind.Gauge, options) as Gauge;
  }

  /** A histogram with explicit buckets. */
  createHistogram(options: HistogramOptions): Histogram {
    return this.create(MetricKind.Histogram, options) as Histogram;
  }

  /** A counter whose total `callback` observes at each collection. */
  createObservableCounter(options: MetricOptions, callback: ObservableCallback): Observable {
    return this.create(MetricKind.ObservableCounter, options, callback) as Observable;
  }

  /** An up-down counter whose value `callback` observes at each collection. */
  createObservableUpDownCounter(options: MetricOptions, callback: ObservableCallback): Observable {
    return this.create(MetricKind.ObservableUpDownCounter, options, callback) as Observable;
  }

  /** A gauge whose value `callback` observes at each collection. */
  createObservableGauge(options: MetricOptions, callback: ObservableCallback): Observable {
    return this.create(MetricKind.ObservableGauge, options, callback) as Observable;
  }

  private create(kind: MetricKind, options: MetricOptions, callback?: ObservableCallback): unknown {
    this.ctx.assertOpen();
    const node = this;
    const scope: MetricsScope = {
      scopeName: this.scopeName,
      get meter() {
        return node.meter;
      },
      get externalMeter() {
        return node.ctx.pipeline.externalMeter(node.scopeName);
      },
      attributes: this.attributes,
    };
    return this.ctx.registry.create(kind, scope, options, callback);
  }
}
