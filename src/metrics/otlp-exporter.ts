/**
 * OTLP push: the official exporter for the configured protocol, wrapped (`GuardedExporter`) so
 * that a large export is encoded in batches that each hold the event loop only briefly, and so
 * failures reach our log rate-limited — the first one at once, then a summary at most once a
 * minute, and a line when exports work again — instead of once per export.
 */
import { Metadata } from '@grpc/grpc-js';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporalityPreference, OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import type { AggregationTemporality, InstrumentType, PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { OtlpProtocol, Temporality, type OtlpConfig } from '../config/otlp-env.ts';
import type { Logger } from '../logging/logger.ts';

const PREFERENCE = {
  [Temporality.Cumulative]: AggregationTemporalityPreference.CUMULATIVE,
  [Temporality.Delta]: AggregationTemporalityPreference.DELTA,
  [Temporality.LowMemory]: AggregationTemporalityPreference.LOWMEMORY,
} as const;

export function createOtlpExporter(config: OtlpConfig): PushMetricExporter {
  const temporalityPreference = PREFERENCE[config.temporality];
  const common = { url: config.url, timeoutMillis: config.timeoutMs, temporalityPreference };
  switch (config.protocol) {
    case OtlpProtocol.Grpc: {
      // gRPC carries the headers as call metadata.
      const metadata = new Metadata();
      for (const [key, value] of Object.entries(config.headers)) metadata.set(key, value);
      return new GrpcExporter({ ...common, metadata, compression: config.compression as never });
    }
    case OtlpProtocol.HttpJson:
      return new JsonExporter({ ...common, headers: config.headers, compression: config.compression as never });
    default:
      return new ProtoExporter({ ...common, headers: config.headers, compression: config.compression as never });
  }
}

const SUMMARY_EVERY_MS = 60_000;
/** Endpoints (instrumentation scopes) per OTLP request: encoding one batch holds the event loop ≈ 1 ms. */
const SCOPES_PER_REQUEST = 25;
/** OTLP requests of one export in flight at once. */
const MAX_IN_FLIGHT = 8;

export class GuardedExporter implements PushMetricExporter {
  private readonly inner: PushMetricExporter;
  private readonly logger: Logger;
  private readonly url: string;
  private failures = 0;
  private suppressed = 0;
  private lastWarn = 0;

  constructor(inner: PushMetricExporter, logger: Logger, url: string) {
    this.inner = inner;
    this.logger = logger;
    this.url = url;
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
    const now = Date.now();
    if (this.failures === 1 || now - this.lastWarn >= SUMMARY_EVERY_MS) {
      this.logger.warn('OTLP metrics export failed; totals stay cumulative and arrive with the next successful export', {
        url: this.url,
        failures: this.failures,
        suppressed: this.suppressed,
        error,
      });
      this.lastWarn = now;
      this.suppressed = 0;
    } else {
      this.suppressed++;
      this.logger.debug('OTLP metrics export failed', { url: this.url, error });
    }
  }

  private succeeded(): void {
    if (this.failures > 0) this.logger.info('OTLP metrics export works again', { url: this.url, after_failures: this.failures });
    this.failures = 0;
    this.suppressed = 0;
  }
}
