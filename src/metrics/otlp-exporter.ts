/**
 * OTLP push: the official exporter for the configured protocol, wrapped (`GuardedExporter`) so
 * that a large export is encoded in batches that each hold the event loop only briefly, and so
 * failures reach our log rate-limited — the first one at once, then a summary at most once a
 * minute, and a line when exports work again — instead of once per export.
 *
 * The exporters (and grpc-js) are optional peer dependencies, imported only when OTLP is on:
 * an application without OTLP neither installs nor loads them, and one on OpenTelemetry SDK 2.x or
 * 3.x brings the exporter line that matches its SDK. `loadOtlpExporter()` runs while the runtime
 * starts, so a missing package is a start error that names it.
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type * as GrpcModule from '@grpc/grpc-js';
import type * as GrpcExporterModule from '@opentelemetry/exporter-metrics-otlp-grpc';
import type * as HttpExporterModule from '@opentelemetry/exporter-metrics-otlp-http';
import type * as ProtoExporterModule from '@opentelemetry/exporter-metrics-otlp-proto';
import { AggregationTemporality, type InstrumentType, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { OtlpProtocol, Temporality, type OtlpConfig } from '../config/otlp-env.ts';
import { DynamoError, ErrorCode } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { RateLimitedLog } from '../logging/rate-limited.ts';
import { carryExemplars } from './otlp-exemplars.ts';

/**
 * The exporters take an `AggregationTemporality` or their own `AggregationTemporalityPreference`;
 * only the low-memory preference has no `AggregationTemporality`, and its value (2) is that public
 * enum's, spelled out so that choosing it does not need one more package loaded.
 */
const PREFERENCE = {
  [Temporality.Cumulative]: AggregationTemporality.CUMULATIVE,
  [Temporality.Delta]: AggregationTemporality.DELTA,
  [Temporality.LowMemory]: 2 as HttpExporterModule.AggregationTemporalityPreference.LOWMEMORY,
} as const;

/** The package each protocol needs, besides the SDK. */
const PACKAGES = {
  [OtlpProtocol.HttpProtobuf]: ['@opentelemetry/exporter-metrics-otlp-proto'],
  [OtlpProtocol.HttpJson]: ['@opentelemetry/exporter-metrics-otlp-http'],
  [OtlpProtocol.Grpc]: ['@opentelemetry/exporter-metrics-otlp-grpc', '@grpc/grpc-js'],
} as const;

type ExporterFactory = (config: OtlpConfig) => PushMetricExporter;

/** Loaded exporter factories, by protocol: the module cache that `import()` keeps anyway, typed. */
const factories = new Map<OtlpProtocol, ExporterFactory>();

/**
 * Imports the exporter package for `protocol` (idempotent). Rejects with `DYN_ERR_MISSING_PACKAGE`
 * naming what to install when it is not there.
 */
export async function loadOtlpExporter(protocol: OtlpProtocol): Promise<void> {
  if (factories.has(protocol)) return;
  try {
    factories.set(protocol, await importFactory(protocol));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error;
    const packages = PACKAGES[protocol].join(' ');
    throw new DynamoError(
      ErrorCode.MissingPackage,
      `OTLP metrics export over ${protocol} needs ${packages}, which is not installed: npm install ${packages} ` +
        '(the exporter line that matches your @opentelemetry/sdk-metrics: 0.2xx for SDK 2.x, 0.3xx for SDK 3.x)',
      { cause: error },
    );
  }
}

async function importFactory(protocol: OtlpProtocol): Promise<ExporterFactory> {
  switch (protocol) {
    case OtlpProtocol.Grpc: {
      const [{ OTLPMetricExporter }, { Metadata }]: [typeof GrpcExporterModule, typeof GrpcModule] = await Promise.all([
        import('@opentelemetry/exporter-metrics-otlp-grpc'),
        import('@grpc/grpc-js'),
      ]);
      return (config) => {
        // gRPC carries the headers as call metadata.
        const metadata = new Metadata();
        for (const [key, value] of Object.entries(config.headers)) metadata.set(key, value);
        return new OTLPMetricExporter({ ...common(config), metadata, compression: config.compression as never });
      };
    }
    case OtlpProtocol.HttpJson: {
      const { OTLPMetricExporter }: typeof HttpExporterModule = await import('@opentelemetry/exporter-metrics-otlp-http');
      return (config) => new OTLPMetricExporter({ ...common(config), headers: config.headers, compression: config.compression as never });
    }
    default: {
      const { OTLPMetricExporter }: typeof ProtoExporterModule = await import('@opentelemetry/exporter-metrics-otlp-proto');
      return (config) => new OTLPMetricExporter({ ...common(config), headers: config.headers, compression: config.compression as never });
    }
  }
}

function common(config: OtlpConfig): { url: string; timeoutMillis: number; temporalityPreference: (typeof PREFERENCE)[Temporality] } {
  return { url: config.url, timeoutMillis: config.timeoutMs, temporalityPreference: PREFERENCE[config.temporality] };
}

/**
 * The exporter for `config`, sending histograms' exemplars where its internals allow (logged
 * when they do not); `loadOtlpExporter(config.protocol)` must have resolved first.
 */
export function createOtlpExporter(config: OtlpConfig, logger: Logger): PushMetricExporter {
  const factory = factories.get(config.protocol);
  if (factory === undefined) {
    // A programming error inside this package, not a user's: start() loads before building.
    throw new Error(`the OTLP exporter for ${config.protocol} was not loaded before use`);
  }
  const exporter = factory(config);
  if (!carryExemplars(exporter, config.protocol === OtlpProtocol.HttpJson ? 'json' : 'protobuf')) {
    logger.warn('this OTLP exporter version is not one whose serializer dynamo-otel can extend: metrics are exported without exemplars', { protocol: config.protocol });
  }
  return exporter;
}

/** Endpoints (instrumentation scopes) per OTLP request: encoding one batch holds the event loop ≈ 1 ms. */
const SCOPES_PER_REQUEST = 25;
/** OTLP requests of one export in flight at once. */
const MAX_IN_FLIGHT = 8;

export class GuardedExporter implements PushMetricExporter {
  private readonly inner: PushMetricExporter;
  private readonly logger: Logger;
  private readonly url: string;
  private failures = 0;
  /** The first failure at once, then a summary at most once a minute. */
  private readonly failureLog: RateLimitedLog;

  constructor(inner: PushMetricExporter, logger: Logger, url: string) {
    this.inner = inner;
    this.logger = logger;
    this.url = url;
    this.failureLog = new RateLimitedLog(logger, 'warn');
  }

  /**
   * Exports in batches of scopes (endpoints): the official exporters encode a whole request
   * synchronously, so one request for thousands of endpoints would hold the event loop for tens of
   * milliseconds. Each batch is encoded in its own turn; the batches are sent concurrently.
   */
  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    void this.exportBatches(metrics).then((result) => {
      if (result.code === ExportResultCode.SUCCESS) this.succeeded();
      else this.failed(result.error);
      resultCallback(result);
    });
  }

  private async exportBatches(metrics: ResourceMetrics): Promise<ExportResult> {
    const scopes = metrics.scopeMetrics;
    if (scopes.length <= SCOPES_PER_REQUEST) return this.exportOne(metrics);
    // A window of requests in flight: the official exporters refuse more than their
    // concurrency limit (30), and a slow collector should not get hundreds at once.
    const inFlight = new Set<Promise<ExportResult>>();
    const results: ExportResult[] = [];
    for (let start = 0; start < scopes.length; start += SCOPES_PER_REQUEST) {
      if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
      else if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const sent = this.exportOne({ resource: metrics.resource, scopeMetrics: scopes.slice(start, start + SCOPES_PER_REQUEST) });
      const tracked: Promise<ExportResult> = sent.then((r) => {
        inFlight.delete(tracked);
        results.push(r);
        return r;
      });
      inFlight.add(tracked);
    }
    await Promise.all(inFlight);
    return results.find((r) => r.code !== ExportResultCode.SUCCESS) ?? { code: ExportResultCode.SUCCESS };
  }

  private exportOne(batch: ResourceMetrics): Promise<ExportResult> {
    return new Promise<ExportResult>((resolve) => {
      try {
        this.inner.export(batch, resolve);
      } catch (error) {
        resolve({ code: ExportResultCode.FAILED, error: error as Error });
      }
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return this.inner.selectAggregationTemporality!(instrumentType);
  }

  private failed(error: Error | undefined): void {
    this.failures++;
    if (!this.failureLog.due) this.logger.debug('OTLP metrics export failed', { url: this.url, error });
    this.failureLog.write('OTLP metrics export failed; totals stay cumulative and arrive with the next successful export', () => ({
      url: this.url,
      failures: this.failures,
      error,
    }));
  }

  private succeeded(): void {
    if (this.failures > 0) this.logger.info('OTLP metrics export works again', { url: this.url, after_failures: this.failures });
    this.failures = 0;
    this.failureLog.reset();
  }
}
