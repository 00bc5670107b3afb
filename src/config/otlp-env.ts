/**
 * OTLP export settings from the standard OpenTelemetry environment variables, validated here so
 * a malformed value is a start error naming the variable (`DYN_ERR_INVALID_ENV`), never a silent
 * fallback inside an exporter.
 */
import { invalidEnv, parsePositiveInt, type Env } from './env.ts';

export const OtlpProtocol = { HttpProtobuf: 'http/protobuf', HttpJson: 'http/json', Grpc: 'grpc' } as const;
export type OtlpProtocol = (typeof OtlpProtocol)[keyof typeof OtlpProtocol];

export const Temporality = { Cumulative: 'cumulative', Delta: 'delta', LowMemory: 'lowmemory' } as const;
export type Temporality = (typeof Temporality)[keyof typeof Temporality];

export interface OtlpConfig {
  protocol: OtlpProtocol;
  /** Full URL: `…/v1/metrics` for HTTP, `scheme://host:port` for gRPC. */
  url: string;
  headers: Record<string, string>;
  compression: 'gzip' | 'none';
  intervalMs: number;
  timeoutMs: number;
  temporality: Temporality;
}

function get(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** The first of `names` that is set, with its name. */
function first(env: Env, ...names: string[]): [string, string] | undefined {
  for (const name of names) {
    const v = get(env, name);
    if (v !== undefined) return [name, v];
  }
  return undefined;
}

/** `undefined` when OTLP export is off: neither `OTEL_METRICS_EXPORTER` says `otlp` nor an endpoint is set. */
export function readOtlpConfig(env: Env): OtlpConfig | undefined {
  const exporters = get(env, 'OTEL_METRICS_EXPORTER')?.split(',').map((s) => s.trim().toLowerCase());
  for (const e of exporters ?? []) {
    if (!['otlp', 'prometheus', 'none', 'console'].includes(e)) {
      throw invalidEnv('OTEL_METRICS_EXPORTER', get(env, 'OTEL_METRICS_EXPORTER')!, 'a comma-separated list of otlp, prometheus, console, none');
    }
  }
  const specific = get(env, 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT');
  const generic = get(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const wanted = exporters?.includes('otlp') === true || ((specific !== undefined || generic !== undefined) && exporters?.includes('none') !== true);
  if (!wanted) return undefined;

  const protoVar = first(env, 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL');
  const protocol = (protoVar?.[1] ?? OtlpProtocol.HttpProtobuf) as OtlpProtocol;
  if (!Object.values(OtlpProtocol).includes(protocol)) throw invalidEnv(protoVar![0], protoVar![1], 'http/protobuf, http/json or grpc');

  const grpc = protocol === OtlpProtocol.Grpc;
  let url: string;
  if (specific !== undefined) {
    url = checkUrl('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', specific);
  } else if (generic !== undefined) {
    const base = checkUrl('OTEL_EXPORTER_OTLP_ENDPOINT', generic);
    url = grpc ? base : `${base.replace(/\/+$/, '')}/v1/metrics`;
  } else {
    url = grpc ? 'http://localhost:4317' : 'http://localhost:4318/v1/metrics';
  }

  const intervalMs = parsePositiveInt(env, 'OTEL_METRIC_EXPORT_INTERVAL') ?? 60_000;
  // The default timeout never outlasts the interval; an explicit longer one is clamped with a warning.
  const timeoutMs = parsePositiveInt(env, 'OTEL_METRIC_EXPORT_TIMEOUT') ?? Math.min(30_000, intervalMs);

  const compVar = first(env, 'OTEL_EXPORTER_OTLP_METRICS_COMPRESSION', 'OTEL_EXPORTER_OTLP_COMPRESSION');
  const compression = (compVar?.[1].toLowerCase() ?? 'none') as 'gzip' | 'none';
  if (compression !== 'gzip' && compression !== 'none') throw invalidEnv(compVar![0], compVar![1], 'gzip or none');

  const tempVar = first(env, 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE');
  const temporality = (tempVar?.[1].toLowerCase() ?? Temporality.Cumulative) as Temporality;
  if (!Object.values(Temporality).includes(temporality)) throw invalidEnv(tempVar![0], tempVar![1], 'cumulative, delta or lowmemory');

  const headers = {
    ...parseKeyValues(env, 'OTEL_EXPORTER_OTLP_HEADERS'),
    ...parseKeyValues(env, 'OTEL_EXPORTER_OTLP_METRICS_HEADERS'),
  };
  return { protocol, url, headers, compression, intervalMs, timeoutMs, temporality };
}

function checkUrl(name: string, raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw invalidEnv(name, raw, 'an http:// or https:// URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw invalidEnv(name, raw, 'an http:// or https:// URL');
  return raw;
}

/**
 * `key=value,key2=value2` with percent-encoded values: the W3C Baggage-like format of
 * `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_RESOURCE_ATTRIBUTES`.
 */
export function parseKeyValues(env: Env, name: string): Record<string, string> {
  const raw = get(env, name);
  if (raw === undefined) return {};
  const out: Record<string, string> = {};
  for (const part of raw.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const key = eq === -1 ? '' : part.slice(0, eq).trim();
    if (key === '' || /[\s"]/.test(key)) throw invalidEnv(name, raw, 'comma-separated key=value pairs');
    try {
      out[key] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      throw invalidEnv(name, raw, 'comma-separated key=value pairs with percent-encoded values');
    }
  }
  return out;
}
