/**
 * One per process: owns the metrics pipeline, the hierarchy of names, the system status server
 * and shutdown. Nothing here is global: two runtimes in one process do not see each other (the
 * signal listeners they share are coordinated in shutdown-signals.ts).
 *
 * Lifecycle: the constructor only validates. `start()` loads the OTLP exporter when OTLP is on,
 * connects to NATS, binds the status server and only then builds the metrics pipeline (its OTLP
 * reader runs a timer); when any step fails, whatever it had started is released before the error
 * reaches the caller, so a retry loop around `create()` leaves nothing behind.
 */
import { randomUUID } from 'node:crypto';
import { trace, type MeterProvider, type TracerProvider } from '@opentelemetry/api';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import { resolveConfig, type ResolvedConfig, type SystemServerOptions } from '../config/runtime-config.ts';
import type { Env } from '../config/env.ts';
import { DynamoError, ErrorCode } from '../errors.ts';
import { createLogger, type Logger, type LogLevel, type LogSink } from '../logging/logger.ts';
import { CustomMetricsRegistry } from '../metrics/custom-metrics.ts';
import { loadOtlpExporter } from '../metrics/otlp-exporter.ts';
import { MetricsPipeline, type MetricsPipelineOptions } from '../metrics/pipeline.ts';
import { loadRuntimeHealth, missingRuntimeHealth, RUNTIME_HEALTH_PACKAGES, type RuntimeHealthModules } from '../metrics/runtime-health.ts';
import type { PrometheusReader } from '../metrics/prometheus-reader.ts';
import { healthReport, NatsState, type HealthReport } from '../system/health.ts';
import { SystemStatusServer } from '../system/status-server.ts';
import { NatsTransport, type NatsOptions } from '../transport/nats-connection.ts';
import { ServiceResponder } from '../transport/service-discovery.ts';
import { VERSION } from '../version.ts';
import type { RuntimeContext } from './context.ts';
import type { Endpoint } from './endpoint.ts';
import { Namespace } from './namespace.ts';
import { handleShutdownSignals, releaseShutdownSignals } from './shutdown-signals.ts';

/** Options of `DistributedRuntime.create()`; each overrides its environment variable. */
export interface DistributedRuntimeOptions {
  /** Environment to read `DYN_*`, `NATS_SERVER` and `OTEL_*` from. Default `process.env`. */
  env?: Env;
  /** System status server settings; each field overrides its env variable. */
  system?: SystemServerOptions;
  /** Log level. Default: `DYN_LOG`, else `warn`. */
  logLevel?: LogLevel;
  /** Where log lines go. Default: stderr. */
  logSink?: LogSink;
  /**
   * Use this OpenTelemetry `MeterProvider` instead of the embedded SDK (`'global'`: the one
   * registered with `@opentelemetry/api`, looked up when the runtime is created). The endpoint
   * metrics then reach every reader it has; add `runtime.prometheusReader` to it to keep /metrics.
   */
  meterProvider?: MeterProvider | 'global';
  /**
   * Where the spans of requests go (a CLIENT span per `generate()`, a SERVER span per request
   * served; see docs/tracing.md). Default: the global `TracerProvider` of `@opentelemetry/api`,
   * looked up at every span, so an SDK registered after the runtime was created is used too —
   * and without any SDK, spans are no-ops. Context travels through the global propagator.
   */
  tracerProvider?: TracerProvider;
  /**
   * The reader /metrics serves. Only needed with your own `meterProvider`: create a
   * `PrometheusReader`, put it in your provider's readers, and pass it here too.
   */
  prometheusReader?: PrometheusReader;
  /** `service.name` of the resource. Default: `OTEL_SERVICE_NAME`, else `dynamo`. */
  serviceName?: string;
  /** Add `otel_scope_name`/`otel_scope_version` labels to every series on /metrics. Default `false`. */
  withScopeLabels?: boolean;
  /** Default duration buckets (seconds) for all endpoints. Default: `DYN_METRICS_DURATION_BUCKETS`, else the package default. */
  durationBuckets?: readonly number[];
  /**
   * Runtime health metrics — event-loop delay and utilization, V8 heap, GC, process CPU and memory —
   * from OpenTelemetry's `instrumentation-runtime-node` and `instrumentation-host-metrics` (optional
   * peer dependencies), on the provider in use, from `start()` (see docs/metrics.md). Default:
   * `DYN_RUNTIME_METRICS`, else on with the embedded SDK when both packages are installed, and off
   * with your own `meterProvider` (your process metrics are yours to set up). `true` without the
   * packages fails the start with `DYN_ERR_MISSING_PACKAGE`.
   */
  runtimeMetrics?: boolean;
  /** Default inter-response gap buckets (seconds) for all endpoints. Default: `DYN_METRICS_INTER_RESPONSE_BUCKETS`, else `DEFAULT_INTER_RESPONSE_BUCKETS`. */
  interResponseBuckets?: readonly number[];
  /** NATS connection options (credentials, token, TLS…), or `false` to run without a request plane (metrics only). Servers default to `NATS_SERVER`. */
  nats?: NatsOptions | false;
  /** How long shutdown waits for in-flight requests before aborting them, in ms. Default 10000. */
  shutdownGraceMs?: number;
  /** Distinct label sets a custom metric keeps per node before the rest share one overflow series (the node's labels plus `otel.metric.overflow: true`). Default 2000. */
  cardinalityLimit?: number;
  /** How long a stopped endpoint's series stay exported with their last values before they leave every reader, in ms. Default 60000. */
  stoppedEndpointRetentionMs?: number;
  /** How long an observable metric's callback may take in one collection before that collection goes on without it, in ms. Default 5000. */
  observableTimeoutMs?: number;
  /** A response stream whose reader has not acknowledged anything for this long is ended as abandoned, in ms. Default 60000. */
  streamStallTimeoutMs?: number;
  /**
   * Requests each endpoint serves at once; the excess is refused at once with `overloaded`
   * (callers retry once on another instance). Per endpoint: `serve(handler, { maxConcurrency })`.
   * Default: `DYN_ENDPOINT_MAX_CONCURRENCY`, else no limit.
   */
  maxConcurrency?: number;
  /**
   * Shut down gracefully on SIGINT/SIGTERM. Default `true`. When the application has its own
   * listener for the signal, the runtime shuts down and the application decides when the process
   * ends; when it has none, the process exits (0, or 1 if a shutdown failed) once every runtime
   * in it has shut down. `false`: the application calls `shutdown()` itself.
   */
  handleSignals?: boolean;
}

/**
 * The longest shutdown waits for the final metrics export. With the default grace period (10 s)
 * and the stopping linger (≤ 1 s) the whole shutdown fits a 30 s orchestrator grace period.
 */
const FINAL_FLUSH_MAX_MS = 15_000;

/**
 * One per process: the NATS connection, the metrics pipeline, the status server and graceful
 * shutdown. Create it with {@link DistributedRuntime.create}.
 */
export class DistributedRuntime {
  /** This runtime's id: `service.instance.id` of its metrics and the id clients route to. */
  readonly instanceId: string = randomUUID();
  /** The runtime's logger (`DYN_LOG`). */
  readonly logger: Logger;
  /** The settings in force: options, then environment, then defaults. */
  readonly config: ResolvedConfig;
  private readonly pipelineOptions: MetricsPipelineOptions;
  private builtPipeline: MetricsPipeline | undefined;
  /** OTLP is on for the embedded provider and its exporter package has been imported. */
  private otlpLoaded = false;
  private readonly ctx: RuntimeContext;
  private readonly namespaces = new Map<string, Namespace>();
  private readonly startMark = performance.now();
  private statusServer: SystemStatusServer | undefined;
  private transport: NatsTransport | undefined;
  private responder: ServiceResponder | undefined;
  private readonly natsOptions: NatsOptions | false;
  private readonly handleSignals: boolean;
  private signalsInstalled = false;
  private closed = false;
  private starting: Promise<void> | undefined;
  private shuttingDown: Promise<void> | undefined;

  /** Validates options and env; starts nothing. Use `DistributedRuntime.create()`. */
  constructor(options: DistributedRuntimeOptions = {}) {
    this.config = resolveConfig({
      env: options.env ?? process.env,
      system: options.system,
      logLevel: options.logLevel,
      durationBuckets: options.durationBuckets,
      interResponseBuckets: options.interResponseBuckets,
      maxConcurrency: options.maxConcurrency,
      runtimeMetrics: options.runtimeMetrics,
      serviceName: options.serviceName,
      instanceId: this.instanceId,
    });
    this.logger = createLogger(this.config.logLevel, options.logSink);
    this.natsOptions = options.nats ?? {};
    this.handleSignals = options.handleSignals ?? true;
    const graceMs = options.shutdownGraceMs ?? 10_000;
    const cardinalityLimit = options.cardinalityLimit ?? 2000;
    if (!Number.isInteger(cardinalityLimit) || cardinalityLimit < 1) {
      throw new DynamoError(ErrorCode.InvalidOption, `cardinalityLimit ${String(cardinalityLimit)} is not valid: expected a whole number ≥ 1`);
    }
    if (!Number.isFinite(graceMs) || graceMs < 0) {
      throw new DynamoError(ErrorCode.InvalidOption, `shutdownGraceMs ${String(graceMs)} is not valid: expected a non-negative number of ms`);
    }
    if (options.prometheusReader !== undefined && options.meterProvider === undefined) {
      throw new DynamoError(ErrorCode.InvalidOption, 'prometheusReader is for use with your own meterProvider; the embedded one has its own');
    }
    this.pipelineOptions = {
      resourceAttributes: this.config.resourceAttributes,
      withScopeLabels: options.withScopeLabels ?? false,
      meterProvider: options.meterProvider,
      otlp: this.config.otlp,
      prometheusReader: options.prometheusReader,
      ...(options.stoppedEndpointRetentionMs === undefined ? {} : { stoppedRetentionMs: options.stoppedEndpointRetentionMs }),
      logger: this.logger,
      startMark: this.startMark,
      natsConnected: this.natsOptions === false ? undefined : () => this.transport?.connected,
    };
    const endpoints = new Map<string, Endpoint>();
    const runtime = this;
    this.ctx = {
      logger: this.logger,
      // Built on first use: by start(), or by metrics created on a runtime used without NATS.
      get pipeline() {
        return runtime.pipeline();
      },
      registry: new CustomMetricsRegistry({
        logger: this.logger,
        cardinalityLimit,
        observeTimeoutMs: options.observableTimeoutMs ?? 5000,
        withInstrumentLimit: (limit, create) => this.pipeline().withInstrumentLimit(limit, create),
      }),
      durationBuckets: this.config.durationBuckets,
      interResponseBuckets: this.config.interResponseBuckets,
      endpoints,
      instanceId: this.instanceId,
      shutdownGraceMs: graceMs,
      streamStallTimeoutMs: options.streamStallTimeoutMs ?? 60_000,
      maxConcurrency: this.config.maxConcurrency,
      // The API's global provider is a proxy: it follows an SDK registered later.
      tracerProvider: options.tracerProvider ?? trace.getTracerProvider(),
      rpcSemconv: this.config.rpcSemconv,
      assertOpen: () => {
        if (this.closed) throw new DynamoError(ErrorCode.RuntimeClosed, 'the DistributedRuntime has been shut down');
      },
      nats: () => {
        if (this.transport === undefined) {
          throw new DynamoError(
            ErrorCode.NoNats,
            this.natsOptions === false ? 'this runtime was created with nats: false; it cannot serve or call endpoints' : 'the runtime is not started: use DistributedRuntime.create()',
          );
        }
        return this.transport;
      },
      service: () => {
        const transport = this.ctx.nats();
        this.responder ??= new ServiceResponder(transport.nc, this.instanceId, VERSION, this.logger);
        return this.responder;
      },
    };
    // Your own provider: its instruments are registered now, so that `'global'` is resolved when
    // the runtime is created (a missing SDK is an error here, not later). Nothing of ours runs:
    // the provider, its readers and their timers are yours.
    if (options.meterProvider !== undefined) this.pipeline();
  }

  /** Builds a runtime and starts it (status server when enabled). */
  static async create(options: DistributedRuntimeOptions = {}): Promise<DistributedRuntime> {
    const runtime = new DistributedRuntime(options);
    await runtime.start();
    return runtime;
  }

  /**
   * Loads the OTLP exporter (when OTLP is on), connects to NATS (unless `nats: false`), starts the
   * status server when enabled, then the metrics pipeline. Every caller gets the same promise; a
   * failed start has released what it started and may be retried.
   */
  start(): Promise<void> {
    this.ctx.assertOpen();
    this.starting ??= this.doStart().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    try {
      const otlp = this.pipelineOptions.otlp;
      if (otlp !== undefined && this.pipelineOptions.meterProvider === undefined && !this.otlpLoaded) {
        await loadOtlpExporter(otlp.protocol);
        this.otlpLoaded = true;
      }
      const runtimeHealth = await this.loadRuntimeHealth();
      if (this.natsOptions !== false && this.transport === undefined) {
        this.transport = await NatsTransport.connect(this.config.natsServers, this.natsOptions, this.logger, `dynamo-${this.instanceId}`);
      }
      if (this.config.systemEnabled && this.statusServer === undefined) {
        const server = new SystemStatusServer({
          host: this.config.systemHost,
          port: this.config.systemPort,
          logger: this.logger,
          metrics: (format) => this.pipeline().scrape(format),
          health: () => this.health(),
        });
        await server.start();
        this.statusServer = server;
      }
      // Last: from here on the OTLP reader's timer runs, and nothing after this can fail.
      const pipeline = this.pipeline();
      if (runtimeHealth !== undefined) pipeline.startRuntimeHealth(runtimeHealth);
    } catch (err) {
      await this.releaseStarted();
      throw err;
    }
    if (this.handleSignals && !this.signalsInstalled) {
      this.signalsInstalled = true;
      handleShutdownSignals(this);
    }
  }

  /**
   * The runtime health instrumentations, when this runtime wants them: asked for (option or
   * `DYN_RUNTIME_METRICS`), or by default with the embedded SDK. Asked for and not installed is a
   * start error; by default and not installed, they are left out (said once, at info).
   */
  private async loadRuntimeHealth(): Promise<RuntimeHealthModules | undefined> {
    const asked = this.config.runtimeMetrics;
    if (!(asked ?? this.pipelineOptions.meterProvider === undefined)) return undefined;
    const modules = await loadRuntimeHealth();
    if (modules === undefined) {
      if (asked === true) throw missingRuntimeHealth();
      this.logger.info(`runtime health metrics are off: npm install ${RUNTIME_HEALTH_PACKAGES.join(' ')} to have them`);
    }
    return modules;
  }

  /** After a failed start: closes the status server and NATS. The pipeline is built last, so it never needs releasing here. */
  private async releaseStarted(): Promise<void> {
    const server = this.statusServer;
    const transport = this.transport;
    this.statusServer = undefined;
    this.transport = undefined;
    await server?.close().catch((error: unknown) => this.logger.debug('status server close after a failed start', { error }));
    await transport?.close().catch((error: unknown) => this.logger.debug('NATS close after a failed start', { error }));
  }

  /** The metrics pipeline, built on first use (never in the constructor). */
  private pipeline(): MetricsPipeline {
    if (this.builtPipeline !== undefined) return this.builtPipeline;
    this.ctx.assertOpen();
    if (this.pipelineOptions.otlp !== undefined && this.pipelineOptions.meterProvider === undefined && !this.otlpLoaded) {
      throw new DynamoError(
        ErrorCode.InvalidOption,
        'OTLP export is on: start the runtime (DistributedRuntime.create(), or await runtime.start()) before using its metrics',
      );
    }
    const pipeline = new MetricsPipeline(this.pipelineOptions);
    pipeline.prometheusReader.onCollectError = (error) => this.logger.once(`collect:${String(error)}`, 'warn', 'metric collection error', { error });
    this.builtPipeline = pipeline;
    return pipeline;
  }

  /** @internal The shutdown SIGINT/SIGTERM starts (see shutdown-signals.ts). */
  async shutdownOnSignal(signal: NodeJS.Signals): Promise<void> {
    this.logger.info('signal received: shutting down', { signal });
    try {
      await this.shutdown();
    } catch (error) {
      this.logger.error('shutdown failed', { error });
      throw error;
    }
  }

  /** Returns the namespace of this name, creating it on first use. */
  namespace(name: string): Namespace {
    this.ctx.assertOpen();
    let ns = this.namespaces.get(name);
    if (ns === undefined) {
      ns = new Namespace(this.ctx, name);
      this.namespaces.set(name, ns);
    }
    return ns;
  }

  /** The port the status server bound (useful with `DYN_SYSTEM_PORT=0`); `undefined` when it is off. */
  get systemPort(): number | undefined {
    return this.statusServer?.port;
  }

  /** The provider endpoint meters come from: the embedded SDK's, or the user's. */
  get meterProvider(): MeterProvider {
    return this.pipeline().meterProvider;
  }

  /**
   * Everything this runtime measures as an OpenTelemetry `MetricProducer`, for readers of yours:
   * `new PeriodicExportingMetricReader({ exporter, metricProducers: [runtime.metricProducer] })`,
   * or the stock `PrometheusExporter({ metricProducers: [...] })`. One `ScopeMetrics` per endpoint,
   * cumulative; empty once the runtime is shut down. See docs/otlp.md.
   */
  get metricProducer(): MetricProducer {
    return this.pipeline().metricProducer;
  }

  /** The reader behind /metrics: the embedded one, or the `prometheusReader` you passed with your own provider. */
  get prometheusReader(): PrometheusReader {
    return this.pipeline().prometheusReader;
  }

  /** The Prometheus exposition, exactly as /metrics serves it. */
  async metricsText(): Promise<string> {
    let out = '';
    for await (const chunk of this.pipeline().scrape()) out += chunk;
    return out;
  }

  /** Pushes the current metrics to OTLP now (no-op without OTLP or with your own provider). */
  forceFlush(): Promise<void> {
    return this.builtPipeline?.flush() ?? Promise.resolve();
  }

  /** What `/health` answers: NATS state and whether every started endpoint is serving. */
  health(): HealthReport {
    const endpoints = [...this.ctx.endpoints.values()].map((ep) => ({ path: ep.path, started: ep.started, serving: ep.serving, failure: ep.serveFailure }));
    const nats = this.transport === undefined ? NatsState.NotConfigured : this.transport.connected ? NatsState.Connected : NatsState.Disconnected;
    return healthReport({ nats, uptimeSeconds: (performance.now() - this.startMark) / 1000, endpoints });
  }

  /**
   * Graceful shutdown: stop taking requests, let in-flight ones finish (up to the grace period),
   * flush metrics, close NATS, close the status server. Safe to call more than once.
   */
  shutdown(): Promise<void> {
    this.shuttingDown ??= this.doShutdown();
    return this.shuttingDown;
  }

  private async doShutdown(): Promise<void> {
    this.closed = true;
    // Only this runtime's registration: another runtime in the process keeps its signal handling.
    releaseShutdownSignals(this);
    await this.starting?.catch(() => {});
    await Promise.all([...this.ctx.endpoints.values()].map((ep) => ep.stopServing(this.ctx.shutdownGraceMs)));
    for (const ep of this.ctx.endpoints.values()) ep.setServing(false);
    this.responder?.stop();
    // One final export (OTLP) happens here; /metrics answers 503 for the moments left. Waited for
    // at most FINAL_FLUSH_MAX_MS, so that linger + grace + flush fit an orchestrator's 30 s.
    const flushed = this.builtPipeline?.shutdown().catch((err: unknown) => this.logger.warn('final metrics flush failed', { error: err }));
    if (flushed !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), FINAL_FLUSH_MAX_MS)));
      if ((await Promise.race([flushed, late])) === 'late') this.logger.warn('final metrics flush still running: not waited for', { waited_ms: FINAL_FLUSH_MAX_MS });
      clearTimeout(timer);
    }
    this.ctx.registry.unregisterExternal();
    await this.transport?.close();
    await this.statusServer?.close();
    this.statusServer = undefined;
    this.logger.info('runtime shut down', { instance: this.instanceId });
  }
}
