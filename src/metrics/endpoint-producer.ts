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
  type MetricProducer,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import type { EndpointRecorder } from './endpoint-recorder.ts';
import { EndpointMetric, type MetricSpec } from './names.ts';

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
  requests: number;
  requestBytes: number;
  responseBytes: number;
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
      requests: r.requests,
      requestBytes: r.requestBytes,
      responseBytes: r.responseBytes,
      errors: Float64Array.from(r.errors),
      buckets: Float64Array.from(r.bucketCounts),
      sum: r.durationSum,
      count: r.durationCount,
    };
    this.last.set(r, now);
    const startTime = prev?.time ?? r.startTime;
    const attributes = r.attributes;
    const d = (key: 'requests' | 'requestBytes' | 'responseBytes'): DataPoint<number>[] => [
      { startTime, endTime, attributes, value: now[key] - (prev?.[key] ?? 0) },
    ];
    const errorPoints = Array.from(now.errors, (v, i) => ({ startTime, endTime, attributes: r.errorAttributes[i]!, value: v - (prev?.errors[i] ?? 0) }));
    return [
      sum(DESCRIPTORS.requests, true, d('requests'), AggregationTemporality.DELTA),
      sum(DESCRIPTORS.requestBytes, true, d('requestBytes'), AggregationTemporality.DELTA),
      sum(DESCRIPTORS.responseBytes, true, d('responseBytes'), AggregationTemporality.DELTA),
      sum(DESCRIPTORS.errors, true, errorPoints, AggregationTemporality.DELTA),
      // min/max are unknown for an interval: only the cumulative form carries them.
      histogram(r, startTime, endTime, AggregationTemporality.DELTA, {
        buckets: { boundaries: boundariesOf(r), counts: Array.from(now.buckets, (v, i) => v - (prev?.buckets[i] ?? 0)) },
        sum: now.sum - (prev?.sum ?? 0),
        count: now.count - (prev?.count ?? 0),
      }),
      sum(DESCRIPTORS.inflight, false, [{ startTime: r.startTime, endTime, attributes, value: r.inflight }]),
    ];
  }
}

function descriptor(spec: MetricSpec, valueType: ValueType) {
  return { name: spec.name, description: spec.help, unit: spec.unit, valueType };
}

const DESCRIPTORS = {
  requests: descriptor(EndpointMetric.requests, ValueType.INT),
  requestBytes: descriptor(EndpointMetric.requestBytes, ValueType.INT),
  responseBytes: descriptor(EndpointMetric.responseBytes, ValueType.INT),
  errors: descriptor(EndpointMetric.errors, ValueType.INT),
  duration: descriptor(EndpointMetric.duration, ValueType.DOUBLE),
  inflight: descriptor(EndpointMetric.inflight, ValueType.INT),
} as const;

function sum(
  desc: (typeof DESCRIPTORS)[keyof typeof DESCRIPTORS],
  isMonotonic: boolean,
  dataPoints: DataPoint<number>[],
  aggregationTemporality: AggregationTemporality = AggregationTemporality.CUMULATIVE,
): MetricData {
  return {
    descriptor: desc,
    aggregationTemporality,
    dataPointType: DataPointType.SUM,
    isMonotonic,
    dataPoints,
  };
}

function recorderMetrics(r: EndpointRecorder, endTime: HrTime): MetricData[] {
  const startTime = r.startTime;
  const attributes = r.attributes;
  const point = (value: number): DataPoint<number> => ({ startTime, endTime, attributes, value });
  const errorPoints: DataPoint<number>[] = new Array(r.errors.length);
  for (let i = 0; i < r.errors.length; i++) {
    errorPoints[i] = { startTime, endTime, attributes: r.errorAttributes[i]!, value: r.errors[i]! };
  }
  const count = r.durationCount;
  return [
    sum(DESCRIPTORS.requests, true, [point(r.requests)]),
    sum(DESCRIPTORS.requestBytes, true, [point(r.requestBytes)]),
    sum(DESCRIPTORS.responseBytes, true, [point(r.responseBytes)]),
    sum(DESCRIPTORS.errors, true, errorPoints),
    histogram(r, startTime, endTime, AggregationTemporality.CUMULATIVE, {
      buckets: { boundaries: boundariesOf(r), counts: Array.from(r.bucketCounts) },
      sum: r.durationSum,
      count,
      ...(count > 0 ? { min: r.durationMin, max: r.durationMax } : {}),
    }),
    sum(DESCRIPTORS.inflight, false, [point(r.inflight)]),
  ];
}

function histogram(r: EndpointRecorder, startTime: HrTime, endTime: HrTime, aggregationTemporality: AggregationTemporality, value: Histogram): MetricData {
  return {
    descriptor: DESCRIPTORS.duration,
    aggregationTemporality,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints: [{ startTime, endTime, attributes: r.attributes, value }],
  };
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
