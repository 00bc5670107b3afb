/**
 * An OTLP metrics receiver for tests, on loopback: HTTP (protobuf and JSON) and gRPC. Payloads are
 * decoded for real — protobuf by a small wire-format decoder that knows the OTLP field numbers —
 * into one normalized shape, so tests compare the three protocols the same way.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';

export interface Point {
  attributes: Record<string, string>;
  value?: number;
  count?: number;
  sum?: number;
  bucketCounts?: number[];
  bounds?: number[];
  /** A histogram point's exemplars, decoded. */
  exemplars?: ExemplarPoint[];
}
export interface ExemplarPoint {
  traceId: string;
  spanId: string;
  value: number;
  /** Nanoseconds since the Unix epoch. */
  timeUnixNano: bigint;
  filteredAttributes: Record<string, string>;
}
export interface Metric {
  name: string;
  description: string;
  unit: string;
  kind: 'sum' | 'gauge' | 'histogram';
  monotonic?: boolean;
  temporality?: number;
  points: Point[];
}
export interface Export {
  resource: Record<string, string>;
  scopes: Array<{ name: string; version: string; metrics: Metric[] }>;
  headers: Record<string, string>;
}

// ---- protobuf wire format -------------------------------------------------------------------

type Field = { no: number; wire: number; value: bigint | Uint8Array };

function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 1) {
      out.push({ no, wire, value: buf.subarray(pos, pos + 8) });
      pos += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      out.push({ no, wire, value: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wire === 5) {
      out.push({ no, wire, value: buf.subarray(pos, pos + 4) });
      pos += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const all = (fs: Field[], no: number) => fs.filter((f) => f.no === no).map((f) => f.value);
const one = (fs: Field[], no: number) => all(fs, no)[0];
const str = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : '');
const f64 = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).readDoubleLE(0) : undefined);
const u64 = (v: unknown) => (v instanceof Uint8Array ? Number(Buffer.from(v).readBigUInt64LE(0)) : undefined);
const packedFixed64 = (v: unknown, read: (b: Buffer, o: number) => number) => {
  if (!(v instanceof Uint8Array)) return [];
  const b = Buffer.from(v);
  return Array.from({ length: b.length / 8 }, (_, i) => read(b, i * 8));
};

function anyValue(buf: Uint8Array): string {
  const fs = fields(buf);
  const f = fs[0];
  if (f === undefined) return '';
  if (f.no === 1) return str(f.value);
  if (f.no === 2 || f.no === 3) return String(f.value);
  if (f.no === 4) return String(f64(f.value));
  return '';
}

function kvs(list: unknown[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const fs = fields(kv as Uint8Array);
    out[str(one(fs, 1))] = anyValue((one(fs, 2) as Uint8Array) ?? new Uint8Array());
  }
  return out;
}

function numberPoint(buf: Uint8Array): Point {
  const fs = fields(buf);
  const asDouble = one(fs, 4);
  const asInt = one(fs, 6);
  return { attributes: kvs(all(fs, 7)), value: asDouble !== undefined ? f64(asDouble)! : Number(Buffer.from(asInt as Uint8Array).readBigInt64LE(0)) };
}

const hex = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : '');

/** opentelemetry.proto.metrics.v1.Exemplar: 7 filtered_attributes, 2 time_unix_nano, 3 as_double, 6 as_int, 4 span_id, 5 trace_id. */
function exemplarPoint(buf: Uint8Array): ExemplarPoint {
  const fs = fields(buf);
  const asInt = one(fs, 6);
  return {
    traceId: hex(one(fs, 5)),
    spanId: hex(one(fs, 4)),
    value: asInt !== undefined ? Number(Buffer.from(asInt as Uint8Array).readBigInt64LE(0)) : f64(one(fs, 3))!,
    timeUnixNano: Buffer.from(one(fs, 2) as Uint8Array).readBigUInt64LE(0),
    filteredAttributes: kvs(all(fs, 7)),
  };
}

function histogramPoint(buf: Uint8Array): Point {
  const fs = fields(buf);
  return {
    attributes: kvs(all(fs, 9)),
    count: u64(one(fs, 4))!,
    sum: f64(one(fs, 5)) ?? 0,
    bucketCounts: packedFixed64(one(fs, 6), (b, o) => Number(b.readBigUInt64LE(o))),
    bounds: packedFixed64(one(fs, 7), (b, o) => b.readDoubleLE(o)),
    exemplars: all(fs, 8).map((e) => exemplarPoint(e as Uint8Array)),
  };
}

export function decodeProtobuf(buf: Uint8Array, headers: Record<string, string> = {}): Export[] {
  return all(fields(buf), 1).map((rmBuf) => {
    const rm = fields(rmBuf as Uint8Array);
    const resource = kvs(all(fields((one(rm, 1) as Uint8Array) ?? new Uint8Array()), 1));
    const scopes = all(rm, 2).map((smBuf) => {
      const sm = fields(smBuf as Uint8Array);
      const scope = fields((one(sm, 1) as Uint8Array) ?? new Uint8Array());
      const metrics = all(sm, 2).map((mBuf): Metric => {
        const m = fields(mBuf as Uint8Array);
        const base = { name: str(one(m, 1)), description: str(one(m, 2)), unit: str(one(m, 3)) };
        const sum = one(m, 7);
        const gauge = one(m, 5);
        const hist = one(m, 9);
        if (sum !== undefined) {
          const s = fields(sum as Uint8Array);
          return { ...base, kind: 'sum', monotonic: one(s, 3) === 1n, temporality: Number(one(s, 2) ?? 0n), points: all(s, 1).map((p) => numberPoint(p as Uint8Array)) };
        }
        if (hist !== undefined) {
          const h = fields(hist as Uint8Array);
          return { ...base, kind: 'histogram', temporality: Number(one(h, 2) ?? 0n), points: all(h, 1).map((p) => histogramPoint(p as Uint8Array)) };
        }
        return { ...base, kind: 'gauge', points: all(fields((gauge as Uint8Array) ?? new Uint8Array()), 1).map((p) => numberPoint(p as Uint8Array)) };
      });
      return { name: str(one(scope, 1)), version: str(one(scope, 2)), metrics };
    });
    return { resource, scopes, headers };
  });
}

// ---- OTLP/JSON ------------------------------------------------------------------------------

type JsonKv = { key: string; value: Record<string, unknown> };
const jsonKvs = (list: JsonKv[] | undefined) =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, String(Object.values(kv.value)[0] ?? '')]));
const num = (v: unknown) => (v === undefined ? undefined : Number(v));

export function decodeJson(body: string, headers: Record<string, string> = {}): Export[] {
  const req = JSON.parse(body) as { resourceMetrics: Array<Record<string, any>> };
  return req.resourceMetrics.map((rm) => ({
    resource: jsonKvs(rm['resource']?.attributes),
    headers,
    scopes: (rm['scopeMetrics'] ?? []).map((sm: Record<string, any>) => ({
      name: sm['scope']?.name ?? '',
      version: sm['scope']?.version ?? '',
      metrics: (sm['metrics'] ?? []).map((m: Record<string, any>): Metric => {
        const base = { name: m['name'], description: m['description'] ?? '', unit: m['unit'] ?? '' };
        if (m['sum'] !== undefined) {
          return {
            ...base,
            kind: 'sum',
            monotonic: m['sum'].isMonotonic === true,
            temporality: num(m['sum'].aggregationTemporality)!,
            points: m['sum'].dataPoints.map((p: Record<string, any>) => ({ attributes: jsonKvs(p['attributes']), value: num(p['asDouble'] ?? p['asInt'])! })),
          };
        }
        if (m['histogram'] !== undefined) {
          return {
            ...base,
            kind: 'histogram',
            temporality: num(m['histogram'].aggregationTemporality)!,
            points: m['histogram'].dataPoints.map((p: Record<string, any>) => ({
              attributes: jsonKvs(p['attributes']),
              count: num(p['count'])!,
              sum: num(p['sum']) ?? 0,
              bucketCounts: (p['bucketCounts'] ?? []).map(Number),
              bounds: (p['explicitBounds'] ?? []).map(Number),
              exemplars: (p['exemplars'] ?? []).map((e: Record<string, any>) => ({
                traceId: String(e['traceId'] ?? ''),
                spanId: String(e['spanId'] ?? ''),
                value: num(e['asDouble'] ?? e['asInt'])!,
                timeUnixNano: BigInt(e['timeUnixNano']),
                filteredAttributes: jsonKvs(e['filteredAttributes']),
              })),
            })),
          };
        }
        return { ...base, kind: 'gauge', points: (m['gauge']?.dataPoints ?? []).map((p: Record<string, any>) => ({ attributes: jsonKvs(p['attributes']), value: num(p['asDouble'] ?? p['asInt'])! })) };
      }),
    })),
  }));
}

// ---- receivers ------------------------------------------------------------------------------

/** `ok` answers 200; `hang` never answers; `fail` answers 503 (retryable); `refuse` answers 400 (not retryable: the export fails at once). */
export type ReceiverMode = 'ok' | 'hang' | 'fail' | 'refuse';

export interface Receiver {
  readonly url: string;
  readonly exports: Export[];
  mode: ReceiverMode;
  /** Requests received and not answered (mode `hang`). */
  readonly pending: number;
  /** Requests answered with an error status (modes `fail` and `refuse`): failed exports, counted where they arrived. */
  readonly refused: number;
  /** Answers every pending request with 503 and closes its socket. */
  releasePending(): void;
  stop(): Promise<void>;
}

export async function startHttpReceiver(port = 0): Promise<Receiver> {
  const exports: Export[] = [];
  const held: ServerResponse[] = [];
  const sockets = new Set<Socket>();
  let mode: ReceiverMode = 'ok';
  let refused = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Buffer = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      if (mode === 'hang') {
        held.push(res);
        return;
      }
      if (mode === 'fail' || mode === 'refuse') {
        refused++;
        res.writeHead(mode === 'fail' ? 503 : 400).end();
        return;
      }
      const isJson = String(req.headers['content-type']).includes('json');
      exports.push(...(isJson ? decodeJson(body.toString('utf8'), headers) : decodeProtobuf(body, headers)));
      res.writeHead(200, { 'content-type': isJson ? 'application/json' : 'application/x-protobuf' }).end(isJson ? '{}' : undefined);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const actual = (server.address() as { port: number }).port;
  const release = (): void => {
    for (const res of held.splice(0)) res.writeHead(503).end();
  };
  return {
    url: `http://127.0.0.1:${actual}`,
    exports,
    get mode() {
      return mode;
    },
    set mode(m) {
      mode = m;
    },
    get pending() {
      return held.length;
    },
    get refused() {
      return refused;
    },
    releasePending: release,
    async stop() {
      release();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

export async function startGrpcReceiver(): Promise<Receiver> {
  const exports: Export[] = [];
  const server = new grpc.Server();
  const passthrough = (b: Buffer) => b;
  server.addService(
    {
      Export: {
        path: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
        requestStream: false,
        responseStream: false,
        requestSerialize: passthrough,
        requestDeserialize: passthrough,
        responseSerialize: passthrough,
        responseDeserialize: passthrough,
      },
    },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        const md = Object.fromEntries(Object.entries(call.metadata.getMap()).map(([k, v]) => [k, String(v)]));
        exports.push(...decodeProtobuf(call.request, md));
        callback(null, Buffer.alloc(0));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    exports,
    mode: 'ok',
    pending: 0,
    refused: 0,
    releasePending() {},
    async stop() {
      await new Promise<void>((r) => server.tryShutdown(() => r()));
    },
  };
}

/** The value of one series in an export, found by metric name and attributes. */
export function exportedValue(exp: Export, metric: string, attrs: Record<string, string>): Point {
  const hits = exp.scopes
    .flatMap((s) => s.metrics)
    .filter((m) => m.name === metric)
    .flatMap((m) => m.points)
    .filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));
  if (hits.length !== 1) throw new Error(`${hits.length} points of ${metric} match ${JSON.stringify(attrs)}`);
  return hits[0]!;
}
