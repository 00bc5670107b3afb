/**
 * Everything a runtime measures — automatic endpoint metrics, custom metrics, uptime — as one
 * OpenTelemetry `MetricProducer`, for readers the runtime does not own: the stock
 * `PrometheusExporter`, a `PeriodicExportingMetricReader` of the application's SDK
 * (`metricProducers: [runtime.metricProducer]`). It reads the same collection /metrics renders,
 * one `ScopeMetrics` per endpoint, cumulative. After shutdown it produces nothing, so the
 * application's exporters ship none of our series.
 */
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { CollectionResult, MetricProducer, ResourceMetrics } from '@opentelemetry/sdk-metrics';

export interface ProducerSource {
  collect(): Promise<CollectionResult>;
}

const EMPTY = { resource: resourceFromAttributes({}) };

export class RuntimeMetricProducer implements MetricProducer {
  private readonly sources: readonly ProducerSource[];
  private readonly shape: (resourceMetrics: ResourceMetrics) => ResourceMetrics;
  private readonly closed: () => boolean;

  constructor(sources: readonly ProducerSource[], shape: (resourceMetrics: ResourceMetrics) => ResourceMetrics, closed: () => boolean) {
    this.sources = sources;
    this.shape = shape;
    this.closed = closed;
  }

  async collect(): Promise<CollectionResult> {
    const results = this.closed() ? [] : await Promise.all(this.sources.map((source) => source.collect()));
    const first = results[0];
    // The reader keeps its own SDK's resource; ours is passed along for readers that look.
    const resource = first?.resourceMetrics.resource;
    const scopeMetrics = results.flatMap((r) => r.resourceMetrics.scopeMetrics);
    return {
      resourceMetrics: resource === undefined ? { resource: EMPTY.resource, scopeMetrics: [] } : this.shape({ resource, scopeMetrics }),
      errors: results.flatMap((r) => r.errors),
    };
  }
}
