/**
 * The runtime's metrics pipeline: where instruments come from, how the endpoint metrics reach
 * readers, the Prometheus reader behind /metrics, and OTLP push.
 *
 * Embedded (default): a fresh SDK `MeterProvider` with a resource naming the service and this
 * runtime instance; the endpoint metrics reach its readers through `EndpointMetricsProducer`s
 * (one per reader, in that reader's temporality): the hot path stays plain arithmetic.
 *
 * External (the user's provider, or the global one): everything goes through the
 * `@opentelemetry/api`, so every reader the user configured gets it — counters and in-flight as
 * observable instruments reading the same plain numbers, the duration as a histogram recorded per
 * request (about a microsecond more per request: the SDK hashes the attribute set).
 * `prometheusReader` is then theirs to add to their provider.
 */
import { createNoopMeter, metrics as otelApi, type Meter, type MeterProvider as ApiMeterProvider } from '@opentelemetry/api';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { Temporality, type OtlpConfig } from '../config/otlp-env.ts';
import { DynamoError, ErrorCode } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { VERSION } from '../version.ts';
import { EndpointMetricsProducer, EndpointRegistry } from './endpoint-producer.ts';
import type { EndpointRecorder } from './endpoint-recorder.ts';
import { bridgeToApi } from './api-bridge.ts';
import { EndpointExposition } from './endpoint-exposition.ts';
import { UPTIME_NAMESPACE, Label, UptimeMetric } from './names.ts';
import { createOtlpExporter, GuardedExporter } from './otlp-exporter.ts';
import { PrometheusReader } from './prometheus-reader.ts';

export interface MetricsPipelineOptions {
  /** Resource attributes (service.name, service.instance.id, OTEL_RESOURCE_ATTRIBUTES…). */
  resourceAttributes: Record<string, string>;
  withScopeLabels: boolean;
  /** The user's provider, `'global'` for the one registered with `@opentelemetry/api`; absent: embedded SDK. */
  meterProvider?: ApiMeterProvider | 'global' | undefined;
  /** The user's reader for /metrics (external provider only). */
  prometheusReader?: PrometheusReader | undefined;
  /** The custom metrics' cardinality limit: the embedded readers keep one more series (the overflow). */
  cardinalityLimit?: number;
  /** OTLP push settings, for the embedded provider. */
  otlp?: OtlpConfig | undefined;
  logger: Logger;
  /** Where the uptime clock starts (`performance.now()` mark). */
  startMark: number;
}

export class MetricsPipeline {
  readonly registry = new EndpointRegistry();
  readonly prometheusReader: PrometheusReader;
  readonly meterProvider: ApiMeterProvider;
  /** True when the user's (or the global) provider is used. */
  readonly external: boolean;
  private readonly embedded: MeterProvider | undefined;
  /** The SDK limit our readers give the instrument being created (see `withInstrumentLimit`). */
  private instrumentLimit: number | undefined;
  private closed = false;

  constructor(options: MetricsPipelineOptions) {
    const resource = defaultResource().merge(resourceFromAttributes(options.resourceAttributes));
    this.external = options.meterProvider !== undefined;
    if (options.prometheusReader !== undefined && !this.external) {
      throw new DynamoError(ErrorCode.InvalidOption, 'prometheusReader is for use with your own meterProvider; the embedded one has its own');
    }
    if (options.prometheusReader !== undefined) {
      this.prometheusReader = options.prometheusReader;
    } else {
      this.prometheusReader = new PrometheusReader({ withScopeLabels: options.withScopeLabels, cardinalitySelector: this.selectCardinality });
      // /metrics renders the endpoint metrics straight from the recorders (same numbers the
      // producers give OTLP), so a scrape of thousands of endpoints builds no OTel objects.
      if (!this.external) {
        const exposition = new EndpointExposition(this.registry, options.withScopeLabels);
        this.prometheusReader.addSource(() => exposition.families());
      }
    }
    if (this.external && options.prometheusReader === undefined) {
      options.logger.warn('with your own MeterProvider, /metrics needs a PrometheusReader you added to it: pass it as prometheusReader');
    }
    if (options.meterProvider === undefined) {
      const readers: IMetricReader[] = [this.prometheusReader];
      if (options.otlp !== undefined) readers.push(otlpReader(options.otlp, this.registry, options.logger, this.selectCardinality));
      this.embedded = new MeterProvider({ resource, readers });
      this.meterProvider = this.embedded;
    } else {
      this.embedded = undefined;
      this.meterProvider = options.meterProvider === 'global' ? globalProvider() : options.meterProvider;
      if (options.otlp !== undefined) {
        options.logger.warn('OTLP environment variables are ignored with your own MeterProvider: configure its readers instead');
      }
    }
    const startMark = options.startMark;
    this.meter('dynamo')
      .createObservableGauge(UptimeMetric.name, { description: UptimeMetric.help, unit: UptimeMetric.unit })
      .addCallback((result) => result.observe((performance.now() - startMark) / 1000, { [Label.Namespace]: UPTIME_NAMESPACE }));
  }

  /**
   * Creates an instrument with room for `limit` attribute sets in the readers we own: our label
   * binder caps every custom metric itself (its overflow series keeps the node's labels), so the
   * SDK's limit must never cut in first, and /metrics and OTLP keep exactly the same series.
   */
  withInstrumentLimit<T>(limit: number, create: () => T): T {
    const prior = this.instrumentLimit;
    this.instrumentLimit = limit;
    try {
      return create();
    } finally {
      this.instrumentLimit = prior;
    }
  }

  /** The SDK asks this when an instrument is created (not per measurement). */
  private readonly selectCardinality = (): number => this.instrumentLimit ?? SDK_DEFAULT_LIMIT;

  meter(scopeName: string): Meter {
    return this.meterProvider.getMeter(scopeName, VERSION);
  }

  /** An endpoint starts serving: its automatic metrics are exported from now on. */
  addEndpoint(scopeName: string, recorder: EndpointRecorder, meter: () => Meter): void {
    if (this.external) bridgeToApi(meter(), recorder);
    else this.registry.add({ name: scopeName, version: VERSION }, recorder);
  }

  /** Renders /metrics in chunks. Throws (before the first chunk) when it cannot. */
  scrape(): AsyncGenerator<string> {
    if (this.closed) throw new DynamoError(ErrorCode.RuntimeClosed, 'the runtime is shutting down');
    if (!this.prometheusReader.bound) {
      throw new DynamoError(ErrorCode.InvalidOption, 'the Prometheus reader is not part of any MeterProvider: add it to your provider\'s readers and pass it as prometheusReader');
    }
    return this.prometheusReader.scrapeChunks();
  }

  /** Pushes what push readers (OTLP) hold; the Prometheus reader has nothing to flush. */
  async flush(): Promise<void> {
    if (this.embedded !== undefined) await this.embedded.forceFlush();
  }

  /** Flushes push readers one last time (the final OTLP export) and stops everything. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.embedded !== undefined) await this.embedded.shutdown();
  }
}

/** The SDK's own default per instrument and reader, kept for instruments that are not ours. */
const SDK_DEFAULT_LIMIT = 2000;

function otlpReader(config: OtlpConfig, registry: EndpointRegistry, logger: Logger, cardinalitySelector: () => number): PeriodicExportingMetricReader {
  let timeoutMs = config.timeoutMs;
  if (timeoutMs > config.intervalMs) {
    logger.warn('OTEL_METRIC_EXPORT_TIMEOUT is longer than OTEL_METRIC_EXPORT_INTERVAL; using the interval', { timeout_ms: timeoutMs, interval_ms: config.intervalMs });
    timeoutMs = config.intervalMs;
  }
  const exporter = new GuardedExporter(createOtlpExporter({ ...config, timeoutMs }), logger, config.url);
  logger.info('OTLP metrics export on', { protocol: config.protocol, url: config.url, interval_ms: config.intervalMs, temporality: config.temporality });
  return new OtlpReader(cardinalitySelector, {
    exporter,
    exportIntervalMillis: config.intervalMs,
    exportTimeoutMillis: timeoutMs,
    metricProducers: [new EndpointMetricsProducer(registry, config.temporality === Temporality.Cumulative ? 'cumulative' : 'delta')],
  });
}

/**
 * The stock periodic reader takes only fixed per-type limits; ours follow the instrument being
 * created, exactly as the Prometheus reader's do, so OTLP and /metrics keep the same series.
 */
class OtlpReader extends PeriodicExportingMetricReader {
  private readonly cardinalitySelector: () => number;

  constructor(cardinalitySelector: () => number, options: ConstructorParameters<typeof PeriodicExportingMetricReader>[0]) {
    super(options);
    this.cardinalitySelector = cardinalitySelector;
  }

  override selectCardinalityLimit(): number {
    return this.cardinalitySelector();
  }
}

/**
 * Resolved when the runtime is created — never when this package is imported — so an SDK
 * registered after the import is found. Still none: an error, not a runtime that silently
 * records into the no-op provider.
 */
function globalProvider(): ApiMeterProvider {
  const provider = otelApi.getMeterProvider();
  // With no SDK registered the API hands out its one no-op meter (an identity, not a class name:
  // names do not survive minifiers).
  if (provider.getMeter('dynamo-otel-probe') === createNoopMeter()) {
    throw new DynamoError(
      ErrorCode.InvalidOption,
      "meterProvider: 'global', but no global MeterProvider is registered: register your SDK (metrics.setGlobalMeterProvider or NodeSDK.start()) before DistributedRuntime.create(), or pass the provider itself",
    );
  }
  return provider;
}
