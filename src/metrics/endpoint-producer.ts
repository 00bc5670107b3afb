/**
 * Turns every serving endpoint's `EndpointRecorder` (and every called endpoint's
 * `ClientRecorder`) into standard OpenTelemetry metric data. It is an SDK `MetricProducer`: any
 * `MetricReader` built with `metricProducers: [producer]` (our Prometheus reader, a
 * PeriodicExportingMetricReader for OTLP, a user's reader) receives the automatic metrics, one
 * instrumentation scope per endpoint (and one per called endpoint).
 */
import { ValueType, type HrTime } from '@opentelemetry/api';
import { hrTime, hrTimeToMilliseconds } from '@opentelemetry/core';
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
import type { Exemplar } from './exemplars.ts';
import { AUTOMATIC_METRICS, AutomaticType, type AutomaticMetric, type MetricsRecorder } from './names.ts';
import { attachExemplars } from './otlp-exemplars.ts';
import { layoutOf, snapshotOf } from './recorder-layout.ts';

interface Registered {
  readonly scope: InstrumentationScope;
  readonly recorder: MetricsRecorder;
}

type Table = readonly AutomaticMetric<never>[];

/** The recorders whose automatic metrics are exported (endpoints' and callers'), shared by every producer of a runtime. */
export class EndpointRegistry {
  /** Replaced, never mutated: a collection that took it keeps a consistent list. */
  entries: readonly Registered[] = [];
  private grouped: { of: readonly Registered[]; by: Map<Table, Registered[]> } | undefined;

  /** Starts exporting `recorder` under `scope`; its series appear, at 0, from the next collection. */
  add(scope: InstrumentationScope, recorder: MetricsRecorder): void {
    if (this.entries.some((e) => e.recorder === recorder)) return;
    this.entries = [...this.entries, { scope, recorder }];
  }

  /** Stops exporting `recorder`: from the next collection on, no reader sees its series. */
  remove(recorder: MetricsRecorder): void {
    this.entries = this.entries.filter((e) => e.recorder !== recorder);
  }

  /**
   * The entries by table — the endpoints' first, then the callers' — each family of a table
   * rendered once for all of its recorders. Recomputed only when the entries change.
   */
  byTable(): Map<Table, Registered[]> {
    const entries = this.entries;
    if (this.grouped?.of !== entries) {
      const by = new Map<Table, Registered[]>([[AUTOMATIC_METRICS as Table, []]]);
      for (const entry of entries) {
        let list = by.get(entry.recorder.table);
        if (list === undefined) by.set(entry.recorder.table, (list = []));
        list.push(entry);
      }
      for (const [table, list] of by) if (list.length === 0) by.delete(table);
      this.grouped = { of: entries, by };
    }
    return this.grouped.by;
  }
}

/** What a producer reports: `exemplars` attaches histograms' exemplars to their data points (for OTLP; `otlp-exemplars.ts`). */
export interface ProducerOptions {
  /** `delta` (and `lowmemory`, which is the same for these instruments) reports counters and histograms as differences since the last collection. Default `cumulative`. */
  readonly temporality?: ProducerTemporality;
  /** Attach each histogram's exemplars (those recorded since the last collection, with delta) to its data point. Default false. */
  readonly exemplars?: boolean;
}

/** `delta` (and `lowmemory`, which is the same for these instruments) reports counters and histograms as differences since the last collection; up-down counters stay cumulative, as OpenTelemetry prescribes. */
export type ProducerTemporality = 'cumulative' | 'delta';

interface Snapshot {
  time: HrTime;
  values: Float64Array;
}

const EMPTY_RESOURCE = resourceFromAttributes({});

/** Recorders turned into metric data between yields to the event loop. */
const COLLECT_CHUNK = 100;

/**
 * One per reader: a cumulative one serves /metrics, an OTLP reader gets one of its temporality.
 * A delta producer remembers what it last reported, so two readers never share that state.
 */
export class EndpointMetricsProducer implements MetricProducer {
  private readonly registry: EndpointRegistry;
  private readonly temporality: ProducerTemporality;
  private readonly exemplars: boolean;
  private readonly last = new WeakMap<MetricsRecorder, Snapshot>();

  constructor(registry: EndpointRegistry, options: ProducerOptions = {}) {
    this.registry = registry;
    this.temporality = options.temporality ?? 'cumulative';
    this.exemplars = options.exemplars ?? false;
  }

  async collect(): Promise<CollectionResult> {
    const endTime = hrTime();
    const entries = [...this.registry.byTable().values()].flat();
    const scopeMetrics: ScopeMetrics[] = new Array(entries.length);
    for (let i = 0; i < entries.length; i++) {
      // Collection is asynchronous anyway: give the event loop a turn every few hundred recorders.
      if (i > 0 && i % COLLECT_CHUNK === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const { scope, recorder } = entries[i]!;
      scopeMetrics[i] = { scope, metrics: this.metricsOf(recorder, endTime) };
    }
    // The reader keeps the SDK's resource; this one is never used.
    return { resourceMetrics: { resource: EMPTY_RESOURCE, scopeMetrics }, errors: [] };
  }

  private metricsOf(r: MetricsRecorder, endTime: HrTime): MetricData[] {
    const values = snapshotOf(r);
    if (this.temporality === 'cumulative') return metricsOf(r, endTime, r.startTime, AggregationTemporality.CUMULATIVE, values, true, this.exemplars ? -Infinity : undefined);
    const prev = this.last.get(r);
    this.last.set(r, { time: endTime, values });
    const delta = prev === undefined ? values : values.map((v, i) => v - prev.values[i]!);
    // min/max are unknown for an interval: only the cumulative form carries them. Its exemplars are the interval's.
    const since = prev === undefined ? -Infinity : hrTimeToMilliseconds(prev.time);
    return metricsOf(r, endTime, prev?.time ?? r.startTime, AggregationTemporality.DELTA, delta, false, this.exemplars ? since : undefined);
  }
}

/**
 * One recorder's automatic metrics as OTel data, one `MetricData` per entry of its table, from
 * `values` in its layout. With `exemplarsSinceMs`, histograms' exemplars recorded after that time
 * (epoch ms) are attached to their data points.
 */
function metricsOf(
  r: MetricsRecorder,
  endTime: HrTime,
  startTime: HrTime,
  temporality: AggregationTemporality,
  values: Float64Array,
  withMinMax: boolean,
  exemplarsSinceMs: number | undefined,
): MetricData[] {
  const attributes = r.attributes;
  const slots = layoutOf(r).slots;
  const table = r.table as readonly AutomaticMetric<MetricsRecorder>[];
  return table.map((metric, k): MetricData => {
    const descriptor = descriptorOf(metric);
    const o = slots[k]!;
    if (metric.histogram !== undefined) {
      const h = metric.histogram(r);
      const n = h.counts.length;
      const counts = Array.from(values.subarray(o, o + n));
      const count = counts.reduce((a, b) => a + b, 0);
      const value: Histogram = {
        buckets: { boundaries: boundariesOf(h.bounds), counts },
        sum: values[o + n]!,
        count,
        ...(withMinMax && count > 0 ? { min: h.min, max: h.max } : {}),
      };
      const point: DataPoint<Histogram> = { startTime, endTime, attributes, value };
      if (exemplarsSinceMs !== undefined && metric.exemplars !== undefined) {
        const recent = metric.exemplars(r).snapshot()?.filter((e): e is Exemplar => e !== undefined && e.timeMs > exemplarsSinceMs);
        if (recent !== undefined) attachExemplars(point, recent);
      }
      return { descriptor, aggregationTemporality: temporality, dataPointType: DataPointType.HISTOGRAM, dataPoints: [point] };
    }
    if (metric.type === AutomaticType.UpDownCounter) {
      // Up-down counters stay cumulative whatever the reader's temporality, as OpenTelemetry prescribes.
      return sum(descriptor, false, [{ startTime: r.startTime, endTime, attributes, value: metric.read!(r) }], AggregationTemporality.CUMULATIVE);
    }
    const dataPoints: DataPoint<number>[] = metric.labelled !== undefined
      ? r.seriesAttributes(metric as AutomaticMetric<never>).map((seriesAttributes, v) => ({ startTime, endTime, attributes: seriesAttributes, value: values[o + v]! }))
      : [{ startTime, endTime, attributes, value: values[o]! }];
    return sum(descriptor, true, dataPoints, temporality);
  });
}

const descriptors = new Map<AutomaticMetric<never>, MetricDescriptor>();

function descriptorOf(metric: AutomaticMetric<never>): MetricDescriptor {
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

const boundaries = new WeakMap<Float64Array, number[]>();

/** Bucket bounds never change: one array per histogram, shared by every collection. */
function boundariesOf(bounds: Float64Array): number[] {
  let b = boundaries.get(bounds);
  if (b === undefined) {
    b = Array.from(bounds);
    boundaries.set(bounds, b);
  }
  return b;
}
