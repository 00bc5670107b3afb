/**
 * Exemplars over OTLP. OpenTelemetry JS's metric data model has no exemplars (opentelemetry-js#5147),
 * so the OTLP serializers of both exporter lines (0.2xx and 0.3xx) write none. Our producer knows
 * each histogram data point's exemplars and attaches them here, keyed by the data point object;
 * the exporter's serializer is wrapped (`carryExemplars`) so that what it writes gains them:
 *
 * - protobuf (http/protobuf and gRPC): the encoded request is rewritten along the one path that
 *   leads to histogram data points — request → resource metrics → scope metrics → metric →
 *   histogram → data point — with each enclosing length recomputed and every other byte copied as
 *   it was. Exemplars are appended to a data point as its field 8, which protobuf allows in any
 *   position.
 * - OTLP/JSON: the request is parsed, the data points amended, and written again.
 *
 * The serializer visits scopes, metrics and data points in their order, so the n-th histogram data
 * point written is the n-th of the request; a request whose count does not match is sent as the
 * official serializer wrote it. Without exemplars, the serializer's bytes are sent untouched.
 */
import { DataPointType, type DataPoint, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Exemplar } from './exemplars.ts';

const attached = new WeakMap<DataPoint<unknown>, readonly Exemplar[]>();

/** `exemplars` go out with `point` when an exporter wrapped by `carryExemplars` sends it. */
export function attachExemplars(point: DataPoint<unknown>, exemplars: readonly Exemplar[]): void {
  if (exemplars.length > 0) attached.set(point, exemplars);
}


/** What an OTLP exporter's serializer is: both exporter lines' `ISerializer`. */
interface Serializer {
  serializeRequest(request: ResourceMetrics): Uint8Array | undefined;
  deserializeResponse(data: Uint8Array): unknown;
}

/** The official exporters keep their serializer here (`OTLPExporterBase` → `OTLPExportDelegate`), in both lines. */
interface ExporterInternals {
  _delegate?: { _serializer?: Serializer };
}

/**
 * Makes `exporter` (an official OTLP metric exporter) send the attached exemplars. False when its
 * internals are not the ones this was written for: it then sends what the SDK has, without them.
 */
export function carryExemplars(exporter: PushMetricExporter, encoding: 'protobuf' | 'json'): boolean {
  const delegate = (exporter as ExporterInternals)._delegate;
  const inner = delegate?._serializer;
  if (delegate === undefined || typeof inner?.serializeRequest !== 'function' || typeof inner.deserializeResponse !== 'function') return false;
  const amend = encoding === 'json' ? amendJson : amendProtobuf;
  delegate._serializer = {
    serializeRequest: (request) => {
      const bytes = inner.serializeRequest(request);
      if (bytes == null) return bytes;
      const exemplars = histogramExemplars(request);
      if (exemplars === undefined) return bytes;
      try {
        return amend(bytes, exemplars) ?? bytes;
      } catch {
        // Exemplars are an addition: whatever goes wrong adding them, the metrics still go out.
        return bytes;
      }
    },
    deserializeResponse: (data) => inner.deserializeResponse(data),
  };
  return true;
}

/** Every histogram data point's exemplars, in the order a serializer writes the points; undefined when none has any. */
function histogramExemplars(request: ResourceMetrics): Array<readonly Exemplar[] | undefined> | undefined {
  const out: Array<readonly Exemplar[] | undefined> = [];
  let any = false;
  for (const scope of request.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.dataPointType !== DataPointType.HISTOGRAM) continue;
      for (const point of metric.dataPoints) {
        const exemplars = attached.get(point);
        if (exemplars !== undefined) any = true;
        out.push(exemplars);
      }
    }
  }
  return any ? out : undefined;
}

// ---- protobuf ---------------------------------------------------------------------------------

/** Field numbers from the request down to a histogram's data points (opentelemetry-proto, metrics v1). */
const PATH_TO_HISTOGRAM_POINTS = [
  1, // ExportMetricsServiceRequest.resource_metrics
  2, // ResourceMetrics.scope_metrics
  2, // ScopeMetrics.metrics
  9, // Metric.histogram
  1, // Histogram.data_points
] as const;
const HISTOGRAM_POINT_EXEMPLARS = 8;
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

class MalformedProtobuf extends Error {}

/** The request with each histogram data point's exemplars appended; undefined when its points do not match `exemplars`. */
function amendProtobuf(bytes: Uint8Array, exemplars: ReadonlyArray<readonly Exemplar[] | undefined>): Uint8Array | undefined {
  let next = 0;
  const point = (body: Uint8Array): Uint8Array => {
    const own = exemplars[next++];
    if (own === undefined) return body;
    return Buffer.concat([body, ...own.map((e) => lengthDelimited(HISTOGRAM_POINT_EXEMPLARS, encodeExemplar(e)))]);
  };
  const out = rewrite(bytes, 0, point);
  return next === exemplars.length ? out : undefined;
}

/** `message` with the fields on the path at `depth` rewritten (the data points by `point`), everything else copied. */
function rewrite(message: Uint8Array, depth: number, point: (body: Uint8Array) => Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let pos = 0;
  let copied = 0;
  while (pos < message.length) {
    const fieldStart = pos;
    const [key, afterKey] = readVarint(message, pos);
    pos = afterKey;
    const wire = key & 7;
    if (wire === WIRE_VARINT) pos = readVarint(message, pos)[1];
    else if (wire === WIRE_FIXED64) pos += 8;
    else if (wire === WIRE_FIXED32) pos += 4;
    else if (wire === WIRE_LEN) {
      const [length, bodyStart] = readVarint(message, pos);
      pos = bodyStart + length;
      if (pos > message.length) throw new MalformedProtobuf();
      if (Math.floor(key / 8) === PATH_TO_HISTOGRAM_POINTS[depth]) {
        const body = message.subarray(bodyStart, pos);
        const last = depth === PATH_TO_HISTOGRAM_POINTS.length - 1;
        parts.push(message.subarray(copied, fieldStart), lengthDelimited(PATH_TO_HISTOGRAM_POINTS[depth]!, last ? point(body) : rewrite(body, depth + 1, point)));
        copied = pos;
      }
    } else throw new MalformedProtobuf();
    if (pos > message.length) throw new MalformedProtobuf();
  }
  if (copied === 0) return message;
  parts.push(message.subarray(copied));
  return Buffer.concat(parts);
}

function readVarint(bytes: Uint8Array, start: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let pos = start; pos < bytes.length && pos < start + 10; pos++) {
    const byte = bytes[pos]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, pos + 1];
    scale *= 128;
  }
  throw new MalformedProtobuf();
}

function varint(value: number): Uint8Array {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Uint8Array.from(out);
}

function lengthDelimited(field: number, body: Uint8Array): Uint8Array {
  return Buffer.concat([varint(field * 8 + WIRE_LEN), varint(body.length), body]);
}

/**
 * An `Exemplar` message: time_unix_nano (2, fixed64), as_double (3), span_id (4), trace_id (5);
 * no filtered attributes (the histogram keeps the request's own attributes).
 */
function encodeExemplar(e: Exemplar): Uint8Array {
  const out = Buffer.alloc(9 + 9 + 10 + 18);
  out[0] = (2 << 3) | WIRE_FIXED64;
  out.writeBigUInt64LE(unixNanos(e.timeMs), 1);
  out[9] = (3 << 3) | WIRE_FIXED64;
  out.writeDoubleLE(e.value, 10);
  out[18] = (4 << 3) | WIRE_LEN;
  out[19] = 8;
  out.write(e.spanId, 20, 8, 'hex');
  out[28] = (5 << 3) | WIRE_LEN;
  out[29] = 16;
  out.write(e.traceId, 30, 16, 'hex');
  return out;
}

/** Epoch milliseconds (with a fraction) as epoch nanoseconds, exactly to the nanosecond the fraction holds. */
function unixNanos(timeMs: number): bigint {
  const ms = Math.floor(timeMs);
  return BigInt(ms) * 1_000_000n + BigInt(Math.min(999_999, Math.round((timeMs - ms) * 1e6)));
}

// ---- OTLP/JSON --------------------------------------------------------------------------------

interface JsonRequest {
  resourceMetrics?: Array<{ scopeMetrics?: Array<{ metrics?: Array<{ histogram?: { dataPoints?: Array<Record<string, unknown>> } }> }> }>;
}

/** The JSON request with each histogram data point's `exemplars` (ids in hex, times as decimal strings, as OTLP/JSON has them). */
function amendJson(bytes: Uint8Array, exemplars: ReadonlyArray<readonly Exemplar[] | undefined>): Uint8Array | undefined {
  const request = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as JsonRequest;
  let next = 0;
  for (const resource of request.resourceMetrics ?? []) {
    for (const scope of resource.scopeMetrics ?? []) {
      for (const metric of scope.metrics ?? []) {
        for (const point of metric.histogram?.dataPoints ?? []) {
          const own = exemplars[next++];
          if (own !== undefined) {
            point['exemplars'] = own.map((e) => ({ timeUnixNano: String(unixNanos(e.timeMs)), asDouble: e.value, spanId: e.spanId, traceId: e.traceId }));
          }
        }
      }
    }
  }
  return next === exemplars.length ? Buffer.from(JSON.stringify(request), 'utf8') : undefined;
}
