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
const POINT_DEPTH = PATH_TO_HISTOGRAM_POINTS.length - 1;
const HISTOGRAM_POINT_EXEMPLARS = 8;
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;
/** An encoded `Exemplar` message: time (1 + 8), value (1 + 8), span id (2 + 8), trace id (2 + 16). */
const EXEMPLAR_BYTES = 46;
/** One exemplar as a data point's field 8: its tag, its length (one byte: 46 < 128), the message. */
const EXEMPLAR_FIELD_BYTES = 2 + EXEMPLAR_BYTES;

class MalformedProtobuf extends Error {}

/** One field of a message, as `readField` finds it: where it starts, its body's bounds, its number and wire type. */
interface FieldSpan {
  start: number;
  bodyStart: number;
  end: number;
  field: number;
  wire: number;
}

/**
 * Reads the field at `pos` of the message that ends at `end` into `f` (reused: no allocation per
 * field); throws `MalformedProtobuf` on anything that does not parse.
 */
function readField(bytes: Uint8Array, pos: number, end: number, f: FieldSpan): void {
  const key = readVarint(bytes, pos, end);
  const wire = key & 7;
  f.start = pos;
  f.field = Math.floor(key / 8);
  f.wire = wire;
  f.bodyStart = varintEnd;
  if (wire === WIRE_VARINT) {
    readVarint(bytes, varintEnd, end);
    f.end = varintEnd;
  } else if (wire === WIRE_FIXED64) f.end = varintEnd + 8;
  else if (wire === WIRE_FIXED32) f.end = varintEnd + 4;
  else if (wire === WIRE_LEN) {
    const length = readVarint(bytes, varintEnd, end);
    f.bodyStart = varintEnd;
    f.end = varintEnd + length;
  } else throw new MalformedProtobuf();
  if (f.end > end) throw new MalformedProtobuf();
}

/**
 * The request with each histogram data point's exemplars appended; undefined when its points do
 * not match `exemplars`. Two passes over the path: the first finds every rewritten message's new
 * length, the second writes the result into one buffer of its exact size.
 */
function amendProtobuf(bytes: Uint8Array, exemplars: ReadonlyArray<readonly Exemplar[] | undefined>): Uint8Array | undefined {
  // Messages are ranges [start, end) of `source`: nothing is sliced or copied before it is written.
  const source = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Pass 1: new body lengths of the messages on the path, in the order pass 2 meets them.
  const lengths: number[] = [];
  let points = 0;
  const measure = (start: number, end: number, depth: number): number => {
    let size = end - start;
    const f = newField();
    for (let at = start; at < end; at = f.end) {
      readField(source, at, end, f);
      if (f.wire !== WIRE_LEN || f.field !== PATH_TO_HISTOGRAM_POINTS[depth]) continue;
      const slot = lengths.push(0) - 1;
      const old = f.end - f.bodyStart;
      const length = depth === POINT_DEPTH ? old + (exemplars[points++]?.length ?? 0) * EXEMPLAR_FIELD_BYTES : measure(f.bodyStart, f.end, depth + 1);
      lengths[slot] = length;
      size += length - old + varintSize(length) - (f.bodyStart - f.start - varintSize(f.field * 8 + WIRE_LEN));
    }
    return size;
  };
  const total = measure(0, source.length, 0);
  if (points !== exemplars.length) return undefined;

  // Pass 2: copy, with the new lengths and the exemplars.
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  let next = 0;
  points = 0;
  const write = (start: number, end: number, depth: number): void => {
    let copied = start;
    const f = newField();
    for (let at = start; at < end; at = f.end) {
      readField(source, at, end, f);
      if (f.wire !== WIRE_LEN || f.field !== PATH_TO_HISTOGRAM_POINTS[depth]) continue;
      pos += source.copy(out, pos, copied, f.start);
      pos = writeVarint(out, pos, f.field * 8 + WIRE_LEN);
      pos = writeVarint(out, pos, lengths[next++]!);
      if (depth === POINT_DEPTH) {
        pos += source.copy(out, pos, f.bodyStart, f.end);
        for (const e of exemplars[points++] ?? []) pos = writeExemplarField(out, pos, e);
      } else write(f.bodyStart, f.end, depth + 1);
      copied = f.end;
    }
    pos += source.copy(out, pos, copied, end);
  };
  write(0, source.length, 0);
  return out;
}

const newField = (): FieldSpan => ({ start: 0, bodyStart: 0, end: 0, field: 0, wire: 0 });

/** Where the varint `readVarint` read last ended (a second result without allocating a pair). */
let varintEnd = 0;

function readVarint(bytes: Uint8Array, start: number, end: number): number {
  let value = 0;
  let scale = 1;
  for (let pos = start; pos < end && pos < start + 10; pos++) {
    const byte = bytes[pos]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      varintEnd = pos + 1;
      return value;
    }
    scale *= 128;
  }
  throw new MalformedProtobuf();
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function writeVarint(out: Uint8Array, pos: number, value: number): number {
  while (value >= 0x80) {
    out[pos++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[pos++] = value;
  return pos;
}

/**
 * A data point's field 8, an `Exemplar`: time_unix_nano (2, fixed64), as_double (3), span_id (4),
 * trace_id (5); no filtered attributes (the histogram keeps the request's own attributes).
 */
function writeExemplarField(out: Buffer, pos: number, e: Exemplar): number {
  out[pos] = (HISTOGRAM_POINT_EXEMPLARS << 3) | WIRE_LEN;
  out[pos + 1] = EXEMPLAR_BYTES;
  out[pos + 2] = (2 << 3) | WIRE_FIXED64;
  out.writeBigUInt64LE(unixNanos(e.timeMs), pos + 3);
  out[pos + 11] = (3 << 3) | WIRE_FIXED64;
  out.writeDoubleLE(e.value, pos + 12);
  out[pos + 20] = (4 << 3) | WIRE_LEN;
  out[pos + 21] = 8;
  out.fill(0, pos + 22, pos + 48);
  out.write(e.spanId, pos + 22, 8, 'hex');
  out[pos + 30] = (5 << 3) | WIRE_LEN;
  out[pos + 31] = 16;
  out.write(e.traceId, pos + 32, 16, 'hex');
  return pos + EXEMPLAR_FIELD_BYTES;
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
