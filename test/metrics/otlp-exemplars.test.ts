/**
 * The OTLP serializers' output amended with exemplars (`carryExemplars`), checked against the
 * official serializers themselves: decoding the amended request gives exactly what decoding the
 * official one gives, plus the exemplars on the points they were attached to — with other
 * instrument types, other scopes and long messages around them. What does not line up is sent as
 * the official serializer wrote it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValueType } from '@opentelemetry/api';
import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type DataPoint, type Histogram, type MetricData, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Exemplar } from '../../src/metrics/exemplars.ts';
import { attachExemplars, carryExemplars } from '../../src/metrics/otlp-exemplars.ts';
import { decodeJson, decodeProtobuf, type Export } from '../helpers/otlp-receiver.ts';

interface Serializer {
  serializeRequest(request: ResourceMetrics): Uint8Array | undefined;
  deserializeResponse(data: Uint8Array): unknown;
}

/** What carryExemplars reaches into: an official exporter's delegate and its serializer. */
function fakeExporter(serializer: Serializer): PushMetricExporter & { _delegate: { _serializer: Serializer } } {
  return { _delegate: { _serializer: serializer }, export: () => {}, forceFlush: async () => {}, shutdown: async () => {} };
}

const time: [number, number] = [1_764_000_000, 123_456_789];

function histogramPoint(attributes: Record<string, string>, counts: number[]): DataPoint<Histogram> {
  const value: Histogram = { buckets: { boundaries: [0.1, 1], counts }, sum: 1.5, count: counts.reduce((a, b) => a + b, 0), min: 0.05, max: 1.2 };
  return { startTime: time, endTime: time, attributes, value };
}

function histogram(name: string, dataPoints: DataPoint<Histogram>[]): MetricData {
  return { descriptor: { name, description: `${name} help`, unit: 's', valueType: ValueType.DOUBLE }, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.HISTOGRAM, dataPoints };
}

const exemplar = (n: number, bucket: number): Exemplar => ({
  bucket,
  value: 0.05 * n,
  timeMs: 1_764_000_000_123.5 + n, // exactly representable: its nanoseconds are known
  traceId: `${n}`.padStart(32, 'a'),
  spanId: `${n}`.padStart(16, 'b'),
});

/** Two scopes with sums, a gauge, an exponential histogram and histograms — some points with exemplars, some without. */
function request(): { request: ResourceMetrics; attached: Map<string, Exemplar[]> } {
  // Long attribute values: messages whose lengths take two- and three-byte varints.
  const long = 'x'.repeat(300);
  const withTwo = histogramPoint({ route: 'a', long }, [1, 2, 3]);
  const without = histogramPoint({ route: 'b' }, [0, 0, 1]);
  const withOne = histogramPoint({ route: 'c', longer: 'y'.repeat(20_000) }, [4, 0, 0]);
  const attached = new Map([
    ['a', [exemplar(1, 0), exemplar(2, 2)]],
    ['c', [exemplar(3, 0)]],
  ]);
  attachExemplars(withTwo, attached.get('a')!);
  attachExemplars(withOne, attached.get('c')!);
  const sum: MetricData = {
    descriptor: { name: 'requests_total', description: '', unit: '', valueType: ValueType.INT },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: true,
    dataPoints: [{ startTime: time, endTime: time, attributes: { route: 'a' }, value: 7 }],
  };
  const gauge: MetricData = {
    descriptor: { name: 'temperature', description: '', unit: '', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: [{ startTime: time, endTime: time, attributes: {}, value: 21.5 }],
  };
  const exponential: MetricData = {
    descriptor: { name: 'sizes', description: '', unit: 'By', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
    dataPoints: [{ startTime: time, endTime: time, attributes: {}, value: { count: 2, sum: 3, scale: 1, zeroCount: 0, positive: { offset: 0, bucketCounts: [1, 1] }, negative: { offset: 0, bucketCounts: [] } } }],
  };
  return {
    attached,
    request: {
      resource: resourceFromAttributes({ 'service.name': 'svc' }),
      scopeMetrics: [
        { scope: { name: 'first', version: '1' }, metrics: [sum, histogram('latency', [withTwo, without]), gauge] },
        { scope: { name: 'second' }, metrics: [exponential, histogram('other', [histogramPoint({ route: 'd' }, [1, 0, 0])]), histogram('third', [withOne])] },
      ],
    },
  };
}

/** The decoded official request with `attached` added where the amendment must put it. */
function expected(official: Export[], attached: Map<string, Exemplar[]>): Export[] {
  for (const m of official.flatMap((e) => e.scopes.flatMap((s) => s.metrics))) {
    for (const p of m.points) {
      if (m.kind !== 'histogram') continue;
      const own = attached.get(p.attributes['route']!) ?? [];
      p.exemplars = own.map((e) => ({
        traceId: e.traceId,
        spanId: e.spanId,
        value: e.value,
        timeUnixNano: 1_764_000_000_123_500_000n + BigInt(e.timeMs - 1_764_000_000_123.5) * 1_000_000n,
        filteredAttributes: {},
      }));
    }
  }
  return official;
}

describe('carryExemplars', () => {
  it('protobuf: the amended request decodes to the official one plus the attached exemplars', () => {
    const { request: rm, attached } = request();
    const official = ProtobufMetricsSerializer.serializeRequest(rm)!;
    const exporter = fakeExporter(ProtobufMetricsSerializer);
    assert.equal(carryExemplars(exporter, 'protobuf'), true);
    const amended = exporter._delegate._serializer.serializeRequest(rm)!;
    assert.deepEqual(decodeProtobuf(amended), expected(decodeProtobuf(official), attached));
  });

  it('OTLP/JSON: the amended request decodes to the official one plus the attached exemplars', () => {
    const { request: rm, attached } = request();
    const official = JsonMetricsSerializer.serializeRequest(rm)!;
    const exporter = fakeExporter(JsonMetricsSerializer);
    assert.equal(carryExemplars(exporter, 'json'), true);
    const amended = exporter._delegate._serializer.serializeRequest(rm)!;
    const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
    assert.deepEqual(decodeJson(text(amended)), expected(decodeJson(text(official)), attached));
  });

  it('without exemplars the official bytes go out untouched', () => {
    const rm: ResourceMetrics = { resource: resourceFromAttributes({}), scopeMetrics: [{ scope: { name: 's' }, metrics: [histogram('h', [histogramPoint({}, [1, 0, 0])])] }] };
    const official = ProtobufMetricsSerializer.serializeRequest(rm)!;
    const exporter = fakeExporter({ serializeRequest: () => official, deserializeResponse: () => ({}) });
    carryExemplars(exporter, 'protobuf');
    assert.equal(exporter._delegate._serializer.serializeRequest(rm), official);
  });

  it('a serializer whose points do not line up with the request, or whose bytes do not parse, is sent as it wrote', () => {
    const { request: rm } = request();
    // Written from a request with one histogram point fewer.
    const fewer = ProtobufMetricsSerializer.serializeRequest({ ...rm, scopeMetrics: rm.scopeMetrics.slice(0, 1) })!;
    const garbage = Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]);
    const badJson = Buffer.from('{"resourceMetrics": [', 'utf8');
    for (const [bytes, encoding] of [[fewer, 'protobuf'], [garbage, 'protobuf'], [Uint8Array.from([0x0b, 0x01]), 'protobuf'], [badJson, 'json']] as const) {
      const exporter = fakeExporter({ serializeRequest: () => bytes, deserializeResponse: () => ({}) });
      carryExemplars(exporter, encoding);
      assert.equal(exporter._delegate._serializer.serializeRequest(rm), bytes);
    }
  });

  it('an exporter without the expected internals is left as it is, and says so', () => {
    const exporter: PushMetricExporter = { export: () => {}, forceFlush: async () => {}, shutdown: async () => {} };
    assert.equal(carryExemplars(exporter, 'protobuf'), false);
    assert.equal(carryExemplars({ ...exporter, _delegate: {} } as PushMetricExporter, 'json'), false);
  });

  it('responses are read by the official serializer', () => {
    const exporter = fakeExporter({ serializeRequest: () => undefined, deserializeResponse: (data) => ({ read: data.length }) });
    carryExemplars(exporter, 'protobuf');
    assert.deepEqual(exporter._delegate._serializer.deserializeResponse(Uint8Array.from([1, 2])), { read: 2 });
    assert.equal(exporter._delegate._serializer.serializeRequest(request().request), undefined);
  });
});
