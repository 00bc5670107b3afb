/**
 * Resolves the runtime's settings: explicit options win, then the environment, then defaults.
 * Defaults are merged with `??` so `0` and `''` given on purpose survive.
 */
import { DynamoError, ErrorCode } from '../errors.ts';
import type { LogLevel } from '../logging/logger.ts';
import { validateBuckets } from '../metrics/buckets.ts';
import { DEFAULT_DURATION_BUCKETS, DEFAULT_INTER_RESPONSE_BUCKETS } from '../metrics/names.ts';
import { DEFAULT_NATS_SERVER, DEFAULT_SYSTEM_HOST, DEFAULT_SYSTEM_PORT, readEnvConfig, type Env } from './env.ts';
import { parseKeyValues, readOtlpConfig, type OtlpConfig } from './otlp-env.ts';

/** The system status server's settings (`DistributedRuntimeOptions.system`). */
export interface SystemServerOptions {
  /** Start the system status server. Default: `DYN_SYSTEM_ENABLED`, else `false`. */
  enabled?: boolean;
  /** Port; `0` picks a free one. Default: `DYN_SYSTEM_PORT`, else 8000. */
  port?: number;
  /** Address to bind. Default: `DYN_SYSTEM_HOST`, else `0.0.0.0`. */
  host?: string;
}

export interface ResolvedConfig {
  systemEnabled: boolean;
  systemPort: number;
  systemHost: string;
  logLevel: LogLevel;
  natsServers: string[];
  durationBuckets: readonly number[];
  /** Default inter-response gap buckets for every endpoint. */
  interResponseBuckets: readonly number[];
  /** Default for every endpoint: requests served at once before the excess is refused as `overloaded`; undefined for no limit. */
  maxConcurrency: number | undefined;
  /**
   * Runtime health metrics (event loop, heap, GC, CPU): the option, else `DYN_RUNTIME_METRICS`;
   * `undefined` when neither says, and the pipeline decides by provider (on for the embedded one).
   */
  runtimeMetrics: boolean | undefined;
  serviceName: string;
  /** The resource: `OTEL_RESOURCE_ATTRIBUTES`, then `service.name` and `service.instance.id`. */
  resourceAttributes: Record<string, string>;
  /** Also emit OpenTelemetry's RPC call-duration histograms (`OTEL_SEMCONV_STABILITY_OPT_IN` has `rpc` or `rpc/dup`). */
  rpcSemconv: boolean;
  /** OTLP push, when the environment asks for it. */
  otlp: OtlpConfig | undefined;
}

export interface ConfigInput {
  env: Env;
  system?: SystemServerOptions | undefined;
  logLevel?: LogLevel | undefined;
  durationBuckets?: readonly number[] | undefined;
  interResponseBuckets?: readonly number[] | undefined;
  maxConcurrency?: number | undefined;
  runtimeMetrics?: boolean | undefined;
  serviceName?: string | undefined;
  instanceId: string;
}

export function resolveConfig(input: ConfigInput): ResolvedConfig {
  const fromEnv = readEnvConfig(input.env);
  const port = input.system?.port ?? fromEnv.systemPort ?? DEFAULT_SYSTEM_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new DynamoError(ErrorCode.InvalidOption, `system.port ${String(port)} is not valid: expected a whole number from 0 to 65535`);
  }
  const buckets = input.durationBuckets === undefined ? fromEnv.durationBuckets ?? DEFAULT_DURATION_BUCKETS : validateBuckets(input.durationBuckets, 'durationBuckets');
  const gaps = input.interResponseBuckets === undefined ? fromEnv.interResponseBuckets ?? DEFAULT_INTER_RESPONSE_BUCKETS : validateBuckets(input.interResponseBuckets, 'interResponseBuckets');
  const fromResourceEnv = parseKeyValues(input.env, 'OTEL_RESOURCE_ATTRIBUTES');
  const serviceName = input.serviceName ?? nonEmpty(input.env['OTEL_SERVICE_NAME']) ?? fromResourceEnv['service.name'] ?? 'dynamo';
  return {
    systemEnabled: input.system?.enabled ?? fromEnv.systemEnabled ?? false,
    systemPort: port,
    systemHost: input.system?.host ?? fromEnv.systemHost ?? DEFAULT_SYSTEM_HOST,
    logLevel: input.logLevel ?? fromEnv.logLevel ?? 'warn',
    natsServers: fromEnv.natsServers ?? [DEFAULT_NATS_SERVER],
    durationBuckets: Object.freeze([...buckets]),
    interResponseBuckets: Object.freeze([...gaps]),
    maxConcurrency: validMaxConcurrency(input.maxConcurrency, 'maxConcurrency') ?? fromEnv.maxConcurrency,
    runtimeMetrics: validRuntimeMetrics(input.runtimeMetrics) ?? fromEnv.runtimeMetrics,
    serviceName,
    resourceAttributes: { 'service.instance.id': input.instanceId, ...fromResourceEnv, 'service.name': serviceName },
    rpcSemconv: fromEnv.rpcSemconv,
    otlp: readOtlpConfig(input.env),
  };
}

/** A limit of requests served at once: a whole number ≥ 1, or undefined for none. */
export function validMaxConcurrency(value: number | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1) throw new DynamoError(ErrorCode.InvalidOption, `${what} ${String(value)} is not valid: expected a whole number ≥ 1`);
  return value;
}

function validRuntimeMetrics(value: boolean | undefined): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new DynamoError(ErrorCode.InvalidOption, `runtimeMetrics ${String(value)} is not valid: expected true or false`);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
