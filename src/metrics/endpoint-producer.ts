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

const EMPTY_RESOURCE = resourceFromAttributes({});

export class EndpointMetricsProducer implements MetricProducer {
  private readonly endpoints: Registered[] = [];

  /** Starts exporting `recorder` under `scope`; its series appear, at 0, from the next collection. */
  add(scope: InstrumentationScope, recorder: EndpointRecorder): void {
    this.endpoints.push({ scope, recorder });
  }

  get size(): number {
    return this.endpoints.length;
  }

  async collect(): Promise<CollectionResult> {
    const endTime = hrTime();
    const scopeMetrics: ScopeMetrics[] = new Array(this.endpoints.length);
    for (let i = 0; i < this.endpoints.length; i++) {
      const { scope, recorder } = this.endpoints[i]!;
      scopeMetrics[i] = { scope, metrics: recorderMetrics(recorder, endTime) };
    }
    // The reader keeps the SDK's resource; this one is never used.
    return { resourceMetrics: { resource: EMPTY_RESOURCE, scopeMetrics }, errors: [] };
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
): MetricData {
  return {
    descriptor: desc,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic,
    dataPoints,
  };
}

export function recorderMetrics(r: EndpointRecorder, endTime: HrTime): MetricData[] {
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
    {
      descriptor: DESCRIPTORS.duration,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: [
        {
          startTime,
          endTime,
          attributes,
          value: {
            buckets: { boundaries: Array.from(r.bounds), counts: Array.from(r.bucketCounts) },
            sum: r.durationSum,
            count,
            ...(count > 0 ? { min: r.durationMin, max: r.durationMax } : {}),
          },
        },
      ],
    },
    sum(DESCRIPTORS.inflight, false, [point(r.inflight)]),
  ];
}
