/**
 * Turns every serving endpoint's `EndpointRecorder` into standard OpenTelemetry metric data.
 * It is an SDK `MetricProducer`: any `MetricReader` built with `metricProducers: [producer]`
 * (our Prometheus reader, a PeriodicExportingMetricReader for OTLP, a user's reader) receives
 * the automatic endpoint metrics, one instrumentation scope per endpoint.
 */
import { ValueType, type HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import type { InstrumentationScope } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type DataPoint,
  type Histogram,
  type MetricData,
  type MetricDescriptor,
  type MetricProducer,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import type { EndpointRecorder } from './endpoint-recorder.ts';
import { AUTOMATIC_METRICS, AutomaticType, type AutomaticMetric } from './names.ts';

interface Registered {
  readonly scope: InstrumentationScope;
  readonly recorder: EndpointRecorder;
}

/** The endpoints whose automatic metrics are exported, shared by every producer of a runtime. */
export class EndpointRegistry {
  /** Replaced, never mutated: a collection that took it keeps a consistent list. */
  entries: readonly Registered[] = [];

  /** Starts exporting `recorder` under `scope`; its series appear, at 0, from the next collection. */
  add(scope: InstrumentationScope, recorder: EndpointRecorder): void {
    if (this.entries.some((e) => e.recorder === recorder)) return;
    this.entries = [...this.entries, { scope, recorder }];
  }

  /** Stops exporting `recorder`: from the next collection on, no reader sees its series. */
  remove(recorder: EndpointRecorder): void {
    this.entries = this.entries.filter((e) => e.recorder !== recorder);
  }
}

/** `delta` (and `lowmemory`, which is the same for these instruments) reports counters and the histogram as differences since the last collection; in-flight stays cumulative, as OpenTelemetry prescribes for up-down counters. */
export type ProducerTemporality = 'cumulative' | 'delta';

interface Snapshot {
  time: HrTime;
  /** `read` of each automatic metric that has one, in table order. */
  scalars: Float64Array;
  errors: Float64Array;
  buckets: Float64Array;
  sum: number;
  count: number;
}

const EMPTY_RESOURCE = resourceFromAttributes({});

/** Endpoints turned into metric data between yields to the event loop. */
const COLLECT_CHUNK = 100;

/**
 * One per reader: a cumulative one serves /metrics, an OTLP reader gets one of its temporality.
 * A delta producer remembers what it last reported, so two readers never share that state.
 */
export class EndpointMetricsProducer implements MetricProducer {
  private readonly registry: EndpointRegistry;
  private readonly temporality: ProducerTemporality;
  private readonly last = new WeakMap<EndpointRecorder, Snapshot>();

  constructor(registry: EndpointRegistry, temporality: ProducerTemporality = 'cumulative') {
    this.registry = registry;
    this.temporality = temporality;
  }

  async collect(): Promise<CollectionResult> {
    const endTime = hrTime();
    const entries = this.registry.entries;
    const scopeMetrics: ScopeMetrics[] = new Array(entries.length);
    for (let i = 0; i < entries.length; i++) {
      // Collection is asynchronous anyway: give the event loop a turn every few hundred endpoints.
      if (i > 0 && i % COLLECT_CHUNK === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const { scope, recorder } = entries[i]!;
      scopeMetrics[i] = { scope, metrics: this.temporality === 'cumulative' ? recorderMetrics(recorder, endTime) : this.deltaMetrics(recorder, endTime) };
    }
    // The reader keeps the SDK's resource; this one is never used.
    return { resourceMetrics: { resource: EMPTY_RESOURCE, scopeMetrics }, errors: [] };
  }

  private deltaMetrics(r: EndpointRecorder, endTime: HrTime): MetricData[] {
    const prev = this.last.get(r);
    const now: Snapshot = {
      time: endTime,
      scalars: Float64Array.from(SCALARS, (m) => m.read!(r)),
      errors: Float64Array.from(r.errors),
      buckets: Float64Array.from(r.bucketCounts),
      sum: r.durationSum,
      count: r.durationCount,
    };
    this.last.set(r, now);
    const startTime = prev?.time ?? r.startTime;
    // min/max are unknown for an interval: only the cumulative form carries them.
    return metricsOf(r, endTime, {
      startTime,
      temporality: AggregationTemporality.DELTA,
      scalar: (m) => now.scalars[SCALARS.indexOf(m)]! - (prev?.scalars[SCALARS.indexOf(m)] ?? 0),
      error: (i) => now.errors[i]! - (prev?.errors[i] ?? 0),
      histogram: () => ({
        buckets: { boundaries: boundariesOf(r), counts: Array.from(now.buckets, (v, i) => v - (prev?.buckets[i] ?? 0)) },
        sum: now.sum - (prev?.sum ?? 0),
        count: now.count - (prev?.count ?? 0),
      }),
    });
  }
}

/** The automatic metrics read as one number each, in table order (delta snapshots keep them so). */
const SCALARS: readonly AutomaticMetric[] = AUTOMATIC_METRICS.filter((m) => m.read !== undefined);

interface Reading {
  startTime: HrTime;
  temporality: AggregationTemporality;
  scalar: (metric: AutomaticMetric) => number;
  error: (index: number) => number;
  histogram: () => Histogram;
}

/** One endpoint's automatic metrics as OTel data, one `MetricData` per entry of the table. */
function metricsOf(r: EndpointRecorder, endTime: HrTime, reading: Reading): MetricData[] {
  const { startTime, temporality } = reading;
  const attributes = r.attributes;
  return AUTOMATIC_METRICS.map((metric): MetricData => {
    const descriptor = descriptorOf(metric);
    switch (metric.type) {
      case AutomaticType.Histogram:
        return { descriptor, aggregationTemporality: temporality, dataPointType: DataPointType.HISTOGRAM, dataPoints: [{ startTime, endTime, attributes, value: reading.histogram() }] };
      case AutomaticType.UpDownCounter:
        // Up-down counters stay cumulative whatever the reader's temporality, as OpenTelemetry prescribes.
        return sum(descriptor, false, [{ startTime: r.startTime, endTime, attributes, value: metric.read!(r) }], AggregationTemporality.CUMULATIVE);
      default: {
        const dataPoints: DataPoint<number>[] = metric.perErrorType === true
          ? Array.from(r.errorAttributes, (errorAttributes, i) => ({ startTime, endTime, attributes: errorAttributes, value: reading.error(i) }))
          : [{ startTime, endTime, attributes, value: reading.scalar(metric) }];
        return sum(descriptor, true, dataPoints, temporality);
      }
    }
  });
}

const descriptors = new Map<AutomaticMetric, MetricDescriptor>();

function descriptorOf(metric: AutomaticMetric): MetricDescriptor {
  let d = descriptors.get(metric);
  if (d === undefined) {
    d = { name: metric.name, description: metric.help, unit: metric.unit, valueType: metric.type === AutomaticType.Histogram ? ValueType.DOUBLE : ValueType.INT };
    descriptors.set(metric, d);
  }
  return d;
}

function sum(descriptor: MetricDescriptor, isMonotonic: boolean, dataPoints: DataPoint<number>[], aggregationTemporality: AggregationTemporality): MetricData {
  return { descriptor, aggregationTemporality, dataPointType: DataPointType.SUM, isMonotonic, dataPoints };
}

function recorderMetrics(r: EndpointRecorder, endTime: HrTime): MetricData[] {
  const count = r.durationCount;
  return metricsOf(r, endTime, {
    startTime: r.startTime,
    temporality: AggregationTemporality.CUMULATIVE,
    scalar: (m) => m.read!(r),
    error: (i) => r.errors[i]!,
    histogram: () => ({
      buckets: { boundaries: boundariesOf(r), counts: Array.from(r.bucketCounts) },
      sum: r.durationSum,
      count,
      ...(count > 0 ? { min: r.durationMin, max: r.durationMax } : {}),
    }),
  });
}

const boundaries = new WeakMap<EndpointRecorder, number[]>();

/** The bucket bounds never change: one array per endpoint, shared by every collection. */
function boundariesOf(r: EndpointRecorder): number[] {
  let b = boundaries.get(r);
  if (b === undefined) {
    b = Array.from(r.bounds);
    boundaries.set(r, b);
  }
  return b;
}
