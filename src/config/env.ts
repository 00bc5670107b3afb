/**
 * Environment parsing. Every variable is validated here, once, at start: a malformed value is a
 * `DYN_ERR_INVALID_ENV` error naming the variable and the value, never a silent default.
 */
import { DynamoError, ErrorCode } from '../errors.ts';
import { LogLevel } from '../logging/logger.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_SYSTEM_PORT = 8000;
export const DEFAULT_SYSTEM_HOST = '0.0.0.0';
export const DEFAULT_NATS_SERVER = 'nats://127.0.0.1:4222';

/** What the environment says; every field is `undefined` when its variable is unset or empty. */
export interface EnvConfig {
  systemEnabled: boolean | undefined;
  systemPort: number | undefined;
  systemHost: string | undefined;
  logLevel: LogLevel | undefined;
  natsServers: string[] | undefined;
  durationBuckets: number[] | undefined;
  interResponseBuckets: number[] | undefined;
  maxConcurrency: number | undefined;
  /** `DYN_RUNTIME_METRICS`: runtime health metrics (event loop, heap, GC, CPU) on or off. */
  runtimeMetrics: boolean | undefined;
  /** `OTEL_SEMCONV_STABILITY_OPT_IN` names `rpc` or `rpc/dup`. */
  rpcSemconv: boolean;
}

export function readEnvConfig(env: Env): EnvConfig {
  return {
    systemEnabled: parseBool(env, 'DYN_SYSTEM_ENABLED'),
    systemPort: parsePort(env, 'DYN_SYSTEM_PORT'),
    systemHost: parseHost(env, 'DYN_SYSTEM_HOST'),
    logLevel: parseLogLevel(env, 'DYN_LOG'),
    natsServers: parseUrlList(env, 'NATS_SERVER'),
    durationBuckets: parseBuckets(env, 'DYN_METRICS_DURATION_BUCKETS'),
    interResponseBuckets: parseBuckets(env, 'DYN_METRICS_INTER_RESPONSE_BUCKETS'),
    maxConcurrency: parsePositiveInt(env, 'DYN_ENDPOINT_MAX_CONCURRENCY'),
    runtimeMetrics: parseBool(env, 'DYN_RUNTIME_METRICS'),
    rpcSemconv: rpcSemconvRequested(env),
  };
}

/**
 * Whether OpenTelemetry's RPC conventions are asked for. `rpc` and `rpc/dup` mean the same here:
 * this package never emitted the experimental RPC conventions, so there is nothing `rpc` would stop
 * and `rpc/dup` would keep — both add the two RPC histograms and keep every `dynamo_*` family (this
 * package's own contract, not a convention being migrated). Other values (`http`, …) are for other
 * instrumentations and ignored.
 */
function rpcSemconvRequested(env: Env): boolean {
  const raw = env['OTEL_SEMCONV_STABILITY_OPT_IN'];
  if (raw === undefined) return false;
  return raw.split(',').some((part) => {
    const v = part.trim().toLowerCase();
    return v === 'rpc' || v === 'rpc/dup';
  });
}

function value(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  return trimmed === '' ? undefined : trimmed;
}

export function invalidEnv(name: string, raw: string, expected: string): DynamoError {
  return new DynamoError(ErrorCode.InvalidEnv, `${name}=${JSON.stringify(raw)} is not valid: expected ${expected}`);
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function parseBool(env: Env, name: string): boolean | undefined {
  const raw = value(env, name);
  if (raw === undefined) return undefined;
  const lower = raw.toLowerCase();
  if (TRUE.has(lower)) return true;
  if (FALSE.has(lower)) return false;
  throw invalidEnv(name, raw, 'one of true/false, 1/0, yes/no, on/off');
}

export function parsePort(env: Env, name: string): number | undefined {
  const raw = value(env, name);
  if (raw === undefined) return undefined;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) {
    throw invalidEnv(name, raw, 'a port number from 0 to 65535 (0 picks a free port)');
  }
  return Number(raw);
}

export function parsePositiveInt(env: Env, name: string): number | undefined {
  const raw = value(env, name);
  if (raw === undefined) return undefined;
  if (!/^\d{1,15}$/.test(raw) || Number(raw) === 0) throw invalidEnv(name, raw, 'a positive whole number');
  return Number(raw);
}

function parseHost(env: Env, name: string): string | undefined {
  const raw = value(env, name);
  if (raw === undefined) return undefined;
  if (/[\s/]/.test(raw)) throw invalidEnv(name, raw, 'a host name or IP address (no scheme, path or spaces)');
  return raw;
}

const LOG_ALIASES: Readonly<Record<string, LogLevel>> = {
  '0': LogLevel.Warn,
  off: LogLevel.Warn,
  '1': LogLevel.Info,
  error: LogLevel.Error,
  warn: LogLevel.Warn,
  warning: LogLevel.Warn,
  info: LogLevel.Info,
  debug: LogLevel.Debug,
  trace: LogLevel.Trace,
};

function parseLogLevel(env: Env, name: string): LogLevel | undefined {
  const raw = value(env, name);
  if (raw === undefined) return undefined;
  const level = LOG_ALIASES[raw.toLowerCase()];
  if (level === undefined) throw invalidEnv(name, raw, '0/off, 1, error, warn, info, debug or trace');
  return level;
}

function parseUrlList(env: Env, name: string): string[] | undefined {
  const raw = value(env, name);
  if (raw === undefined) return undefined;
  const urls = raw.split(',').map((s) => s.trim());
  for (const url of urls) {
    if (!/^(nats|tls|ws|wss):\/\/[^\s,]+$|^[^\s,:/]+(:\d{1,5})?$/.test(url)) {
      throw invalidEnv(name, raw, 'comma-separated NATS URLs such as nats://127.0.0.1:4222');
    }
  }
  return urls;
}

function parseBuckets(env: Env, name: string): number[] | undefined {
  const raw = value(env, name);
  if (raw === undefined) return undefined;
  const parts = raw.split(',').map((s) => s.trim());
  const bounds = parts.map(Number);
  const ok = parts.every((p) => p !== '') && bounds.every((b, i) => Number.isFinite(b) && (i === 0 || b > (bounds[i - 1] as number)));
  if (!ok) throw invalidEnv(name, raw, 'comma-separated, strictly increasing, finite numbers of seconds');
  return bounds;
}
