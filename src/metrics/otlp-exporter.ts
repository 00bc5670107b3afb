/**
 * OTLP push: the official exporter for the configured protocol, wrapped so failures reach our
 * log rate-limited (the first one at once, then a summary at most once a minute, and a line when
 * exports work again) instead of once per export.
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

export class LoggingExporter implements PushMetricExporter {
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

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.inner.export(metrics, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.succeeded();
      else this.failed(result.error);
      resultCallback(result);
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
