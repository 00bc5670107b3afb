/**
 * The runtime's metrics pipeline: where instruments come from, how the metrics reach readers, the
 * Prometheus reader behind /metrics, OTLP push, and the lifecycle of all of it.
 *
 * Home: the runtime always has its own SDK `MeterProvider` (resource: the service and this runtime
 * instance). Custom metrics and uptime are its instruments; the endpoint metrics reach its readers
 * through `EndpointMetricsProducer`s (the hot path stays plain arithmetic). /metrics renders its
 * Prometheus reader, so /metrics works whatever else the application does with OpenTelemetry.
 *
 * Readers of the application: `metricProducer` hands the same data to any `MetricReader`
 * (`metricProducers: [runtime.metricProducer]`). A provider we can only reach through the API
 * (`meterProvider`: the application's, or `'global'`, e.g. sdk-node configured from env) gets
 * the endpoint metrics as observable instruments reading the same plain numbers plus a duration
 * histogram recorded per request, and every custom metric as a twin instrument recorded alongside
 * ours. Everything we register there is unregistered at shutdown, except what the API cannot
 * unregister (synchronous instruments: see docs/otlp.md).
 */
import { createNoopMeter, metrics as otelApi, type Meter, type MeterProvider as ApiMeterProvider } from '@opentelemetry/api';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type IMetricReader,
  type MetricProducer,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { Temporality, type OtlpConfig } from '../config/otlp-env.ts';
import { DynamoError, ErrorCode } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { VERSION } from '../version.ts';
import { EndpointMetricsProducer, EndpointRegistry } from './endpoint-producer.ts';
import type { ClientRecorder } from './client-recorder.ts';
import type { EndpointRecorder } from './endpoint-recorder.ts';
import { bridgeToApi } from './api-bridge.ts';
import { EndpointExposition } from './endpoint-exposition.ts';
import { NatsConnectedMetric, UPTIME_NAMESPACE, Label, UptimeMetric } from './names.ts';
import { createOtlpExporter, GuardedExporter } from './otlp-exporter.ts';
import { PrometheusReader } from './prometheus-reader.ts';
import { ExpositionFormat } from './prometheus-serializer.ts';
import { startRuntimeHealth, type RuntimeHealthModules } from './runtime-health.ts';
import { RuntimeMetricProducer } from './runtime-producer.ts';
import { shapeScopes } from './scope-shape.ts';

export interface MetricsPipelineOptions {
  /** Resource attributes (service.name, service.instance.id, OTEL_RESOURCE_ATTRIBUTES…). */
  resourceAttributes: Record<string, string>;
  withScopeLabels: boolean;
  /** The application's provider to register our metrics on, `'global'` for the one registered with `@opentelemetry/api`. Default none. */
  meterProvider?: ApiMeterProvider | 'global' | undefined;
  /** A reader of the application's provider for /metrics to render instead of ours. Default none. */
  prometheusReader?: PrometheusReader | undefined;
  /** OTLP push settings (from env), for the runtime's own provider when no `meterProvider` is given. */
  otlp?: OtlpConfig | undefined;
  /** How long a stopped endpoint's series stay exported, with their last values, ms. Default 60000. */
  stoppedRetentionMs?: number;
  logger: Logger;
  /** Where the uptime clock starts (`performance.now()` mark). */
  startMark: number;
  /** The NATS connection now: `true`/`false`, or `undefined` when the runtime has none (no series then). */
  natsConnected?: (() => boolean | undefined) | undefined;
}

interface Served {
  readonly recorder: EndpointRecorder;
  /** Undoes what the endpoint registered on the application's provider. */
  unbridge: (() => void) | undefined;
  retiring: NodeJS.Timeout | undefined;
}

export class MetricsPipeline {
  readonly registry = new EndpointRegistry();
  readonly prometheusReader: PrometheusReader;
  /** The application's provider (or the global one), when given; else our own. */
  readonly meterProvider: ApiMeterProvider;
  /** True when the application's (or the global) provider is used. */
  readonly external: boolean;
  /** Everything the runtime measures, for any reader: see runtime-producer.ts. */
  readonly metricProducer: MetricProducer;
  private readonly home: MeterProvider;
  private readonly externalProvider: ApiMeterProvider | undefined;
  private readonly logger: Logger;
  private readonly retentionMs: number;
  /** Scopes of endpoints that stopped serving, past their retention: no reader sees them. */
  private readonly retired = new Set<string>();
  private readonly served = new Map<string, Served>();
  /** Undoes what the runtime itself registered: uptime on the application's provider, runtime health on the provider in use. */
  private readonly unregister: Array<() => void> = [];
  private runtimeHealth = false;
  /** The SDK limit our readers give the instrument being created (see `withInstrumentLimit`). */
  private instrumentLimit: number | undefined;
  private closed = false;

  constructor(options: MetricsPipelineOptions) {
    const resource = defaultResource().merge(resourceFromAttributes(options.resourceAttributes));
    this.logger = options.logger;
    this.retentionMs = options.stoppedRetentionMs ?? 60_000;
    this.external = options.meterProvider !== undefined;
    if (options.prometheusReader !== undefined && !this.external) {
      throw new DynamoError(ErrorCode.InvalidOption, 'prometheusReader is for use with your own meterProvider; the embedded one has its own');
    }
    this.externalProvider = options.meterProvider === undefined ? undefined : options.meterProvider === 'global' ? globalProvider() : options.meterProvider;
    const shape = (rm: ResourceMetrics): ResourceMetrics => shapeScopes(rm, this.retired);

    const ours = new PrometheusReader({ withScopeLabels: options.withScopeLabels, cardinalitySelector: this.selectCardinality });
    ours.shape = shape;
    // /metrics renders the endpoint metrics straight from the recorders (the same numbers the
    // producers give every other reader), so a scrape of thousands of endpoints builds no OTel objects.
    const exposition = new EndpointExposition(this.registry, options.withScopeLabels);
    ours.addSource(() => exposition.families());
    const readers: IMetricReader[] = [ours];
    if (options.otlp !== undefined) {
      if (this.externalProvider !== undefined) {
        options.logger.info('OTLP export is left to your MeterProvider (its readers, e.g. sdk-node configured by the same OTEL_* variables)');
      } else {
        if (globalRegistered()) {
          options.logger.warn("a global MeterProvider is registered (e.g. sdk-node) and OTLP is configured: this runtime starts a second OTLP pipeline with its own resource; pass meterProvider: 'global' to use that one");
        }
        readers.push(otlpReader(options.otlp, this.registry, options.logger, this.selectCardinality, shape));
      }
    }
    this.home = new MeterProvider({ resource, readers });
    this.prometheusReader = options.prometheusReader ?? ours;
    this.meterProvider = this.externalProvider ?? this.home;
    const cumulative = new EndpointMetricsProducer(this.registry);
    this.metricProducer = new RuntimeMetricProducer([ours, { collect: () => cumulative.collect() }], shape, () => this.closed);

    const startMark = options.startMark;
    // The runtime's own gauges: uptime, and the NATS connection when there is one.
    const uptime = (meter: Meter): (() => void) => {
      const gauge = meter.createObservableGauge(UptimeMetric.name, { description: UptimeMetric.help, unit: UptimeMetric.unit });
      const callback = (result: { observe(value: number, attributes: Record<string, string>): void }): void =>
        result.observe((performance.now() - startMark) / 1000, { [Label.Namespace]: UPTIME_NAMESPACE });
      gauge.addCallback(callback);
      const natsConnected = options.natsConnected;
      if (natsConnected === undefined) return () => gauge.removeCallback(callback);
      const nats = meter.createObservableGauge(NatsConnectedMetric.name, { description: NatsConnectedMetric.help, unit: NatsConnectedMetric.unit });
      const natsCallback = (result: { observe(value: number): void }): void => {
        const connected = natsConnected();
        if (connected !== undefined) result.observe(connected ? 1 : 0);
      };
      nats.addCallback(natsCallback);
      return () => {
        gauge.removeCallback(callback);
        nats.removeCallback(natsCallback);
      };
    };
    uptime(this.home.getMeter('dynamo', VERSION));
    if (this.externalProvider !== undefined) this.unregister.push(uptime(this.externalProvider.getMeter('dynamo', VERSION)));
  }

  /** Registers the runtime health instrumentations on the provider in use (once; see runtime-health.ts). */
  startRuntimeHealth(modules: RuntimeHealthModules): void {
    if (this.runtimeHealth || this.closed) return;
    this.runtimeHealth = true;
    this.unregister.push(startRuntimeHealth(this.meterProvider, modules));
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

  /** The meter of a scope on the runtime's own provider. */
  meter(scopeName: string): Meter {
    return this.home.getMeter(scopeName, VERSION);
  }

  /** The meter of a scope on the application's provider, when one is given. */
  externalMeter(scopeName: string): Meter | undefined {
    return this.externalProvider?.getMeter(scopeName, VERSION);
  }

  /** An endpoint starts (or resumes) serving: its series are exported from the next collection. */
  addEndpoint(scopeName: string, recorder: EndpointRecorder): void {
    if (this.closed) return;
    const prior = this.served.get(scopeName);
    if (prior !== undefined) {
      clearTimeout(prior.retiring);
      prior.retiring = undefined;
    }
    this.retired.delete(scopeName);
    this.registry.add({ name: scopeName, version: VERSION }, recorder);
    if (prior?.unbridge === undefined) {
      const external = this.externalMeter(scopeName);
      const unbridge = external === undefined ? undefined : bridgeToApi(external, recorder);
      this.served.set(scopeName, { recorder, unbridge, retiring: undefined });
    }
  }

  /**
   * The first client of an endpoint was made: what the callers see of it is exported from the next
   * collection, under its own scope (`…/client`), for as long as the runtime runs — a caller's
   * history does not retire with an endpoint this runtime happens to serve.
   */
  addCaller(scopeName: string, recorder: ClientRecorder): void {
    if (this.closed) return;
    this.registry.add({ name: scopeName, version: VERSION }, recorder);
    const external = this.externalMeter(scopeName);
    if (external !== undefined) this.unregister.push(bridgeToApi(external, recorder));
  }

  /**
   * An endpoint stopped serving: its series (automatic and custom) stay, with their last values,
   * for the retention period — so every reader, pull or push, sees the final values — then leave
   * every reader.
   */
  removeEndpoint(scopeName: string): void {
    const served = this.served.get(scopeName);
    if (served === undefined || served.retiring !== undefined || this.closed) return;
    served.retiring = setTimeout(() => this.retire(scopeName), this.retentionMs);
    served.retiring.unref();
  }

  private retire(scopeName: string): void {
    const served = this.served.get(scopeName);
    if (served === undefined) return;
    this.served.delete(scopeName);
    this.registry.remove(served.recorder);
    this.retired.add(scopeName);
    served.unbridge?.();
    this.logger.debug('stopped endpoint retired from metrics', { scope: scopeName });
  }

  /** Renders /metrics in chunks. Throws (before the first chunk) when it cannot. */
  scrape(format: ExpositionFormat = ExpositionFormat.Text): AsyncGenerator<string> {
    if (this.closed) throw new DynamoError(ErrorCode.RuntimeClosed, 'the runtime is shutting down');
    if (!this.prometheusReader.bound) {
      throw new DynamoError(ErrorCode.InvalidOption, "the Prometheus reader is not part of any MeterProvider: add it to your provider's readers and pass it as prometheusReader");
    }
    return this.prometheusReader.scrapeChunks(format);
  }

  /** Pushes what our push readers (OTLP) hold; the Prometheus reader has nothing to flush. */
  async flush(): Promise<void> {
    await this.home.forceFlush();
  }

  /**
   * Flushes our push readers one last time (the final OTLP export), then takes everything of ours
   * off the application's provider: from now on its readers get none of our series.
   */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    try {
      await this.home.shutdown();
    } finally {
      this.closed = true;
      for (const [scopeName, served] of this.served) {
        clearTimeout(served.retiring);
        served.unbridge?.();
        this.retired.add(scopeName);
      }
      this.served.clear();
      for (const undo of this.unregister.splice(0)) undo();
    }
  }
}

/** The SDK's own default per instrument and reader, kept for instruments that are not ours. */
const SDK_DEFAULT_LIMIT = 2000;

function otlpReader(
  config: OtlpConfig,
  registry: EndpointRegistry,
  logger: Logger,
  cardinalitySelector: () => number,
  shape: (rm: ResourceMetrics) => ResourceMetrics,
): PeriodicExportingMetricReader {
  let timeoutMs = config.timeoutMs;
  if (timeoutMs > config.intervalMs) {
    logger.warn('OTEL_METRIC_EXPORT_TIMEOUT is longer than OTEL_METRIC_EXPORT_INTERVAL; using the interval', { timeout_ms: timeoutMs, interval_ms: config.intervalMs });
    timeoutMs = config.intervalMs;
  }
  const exporter = shapedExporter(new GuardedExporter(createOtlpExporter({ ...config, timeoutMs }, logger), logger, config.url), shape);
  logger.info('OTLP metrics export on', { protocol: config.protocol, url: config.url, interval_ms: config.intervalMs, temporality: config.temporality });
  return new OtlpReader(cardinalitySelector, {
    exporter,
    exportIntervalMillis: config.intervalMs,
    exportTimeoutMillis: timeoutMs,
    metricProducers: [new EndpointMetricsProducer(registry, { temporality: config.temporality === Temporality.Cumulative ? 'cumulative' : 'delta', exemplars: true })],
  });
}

/** The exporter, handed one `ScopeMetrics` per scope and nothing of retired endpoints. */
function shapedExporter(inner: PushMetricExporter, shape: (rm: ResourceMetrics) => ResourceMetrics): PushMetricExporter {
  return {
    export: (metrics, resultCallback) => inner.export(shape(metrics), resultCallback),
    forceFlush: () => inner.forceFlush(),
    shutdown: () => inner.shutdown(),
    ...(inner.selectAggregationTemporality === undefined ? {} : { selectAggregationTemporality: inner.selectAggregationTemporality.bind(inner) }),
    ...(inner.selectAggregation === undefined ? {} : { selectAggregation: inner.selectAggregation.bind(inner) }),
  };
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
  if (!globalRegistered()) {
    throw new DynamoError(
      ErrorCode.InvalidOption,
      "meterProvider: 'global', but no global MeterProvider is registered: register your SDK (metrics.setGlobalMeterProvider or NodeSDK.start()) before DistributedRuntime.create(), or pass the provider itself",
    );
  }
  return provider;
}

/** With no SDK registered the API hands out its one no-op meter: an identity, not a class name (names do not survive minifiers). */
function globalRegistered(): boolean {
  return otelApi.getMeterProvider().getMeter('dynamo-otel-probe') !== createNoopMeter();
}
