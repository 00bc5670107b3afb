/**
 * One per process: owns the metrics pipeline, the hierarchy of names, the system status server
 * and shutdown. Nothing here is global: two runtimes in one process do not see each other.
 */
import { randomUUID } from 'node:crypto';
import type { MeterProvider } from '@opentelemetry/api';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import { resolveConfig, type ResolvedConfig, type SystemServerOptions } from '../config/runtime-config.ts';
import type { Env } from '../config/env.ts';
import { DynamoError, ErrorCode } from '../errors.ts';
import { createLogger, type Logger, type LogLevel, type LogSink } from '../logging/logger.ts';
import { CustomMetricsRegistry } from '../metrics/custom-metrics.ts';
import { MetricsPipeline } from '../metrics/pipeline.ts';
import type { PrometheusReader } from '../metrics/prometheus-reader.ts';
import { healthReport, NatsState, type HealthReport } from '../system/health.ts';
import { SystemStatusServer } from '../system/status-server.ts';
import { NatsTransport, type NatsOptions } from '../transport/nats-connection.ts';
import { ServiceResponder } from '../transport/service-discovery.ts';
import { VERSION } from '../version.ts';
import type { RuntimeContext } from './context.ts';
import type { Endpoint } from './endpoint.ts';
import { Namespace } from './namespace.ts';

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
  /** Shut down gracefully on SIGINT/SIGTERM, then exit. Default `true`. */
  handleSignals?: boolean;
}

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
  private readonly pipeline: MetricsPipeline;
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
  private shuttingDown: Promise<void> | undefined;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.logger.info('signal received: shutting down', { signal });
    this.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        this.logger.error('shutdown failed', { error: err });
        process.exit(1);
      },
    );
  };

  /** Validates options and env; starts nothing. Use `DistributedRuntime.create()`. */
  constructor(options: DistributedRuntimeOptions = {}) {
    this.config = resolveConfig({
      env: options.env ?? process.env,
      system: options.system,
      logLevel: options.logLevel,
      durationBuckets: options.durationBuckets,
      maxConcurrency: options.maxConcurrency,
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
    this.pipeline = new MetricsPipeline({
      resourceAttributes: this.config.resourceAttributes,
      withScopeLabels: options.withScopeLabels ?? false,
      meterProvider: options.meterProvider,
      otlp: this.config.otlp,
      prometheusReader: options.prometheusReader,
      ...(options.stoppedEndpointRetentionMs === undefined ? {} : { stoppedRetentionMs: options.stoppedEndpointRetentionMs }),
      logger: this.logger,
      startMark: this.startMark,
    });
    this.pipeline.prometheusReader.onCollectError = (error) => this.logger.once(`collect:${String(error)}`, 'warn', 'metric collection error', { error });
    const endpoints = new Map<string, Endpoint>();
    this.ctx = {
      logger: this.logger,
      pipeline: this.pipeline,
      registry: new CustomMetricsRegistry({
        logger: this.logger,
        cardinalityLimit,
        observeTimeoutMs: options.observableTimeoutMs ?? 5000,
        withInstrumentLimit: (limit, create) => this.pipeline.withInstrumentLimit(limit, create),
      }),
      durationBuckets: this.config.durationBuckets,
      endpoints,
      instanceId: this.instanceId,
      shutdownGraceMs: graceMs,
      streamStallTimeoutMs: options.streamStallTimeoutMs ?? 60_000,
      maxConcurrency: this.config.maxConcurrency,
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
  }

  /** Builds a runtime and starts it (status server when enabled). */
  static async create(options: DistributedRuntimeOptions = {}): Promise<DistributedRuntime> {
    const runtime = new DistributedRuntime(options);
    await runtime.start();
    return runtime;
  }

  /** Connects to NATS (unless `nats: false`) and starts the status server when enabled. */
  async start(): Promise<void> {
    this.ctx.assertOpen();
    if (this.natsOptions !== false && this.transport === undefined) {
      this.transport = await NatsTransport.connect(this.config.natsServers, this.natsOptions, this.logger, `dynamo-${this.instanceId}`);
    }
    if (this.config.systemEnabled && this.statusServer === undefined) {
      const server = new SystemStatusServer({
        host: this.config.systemHost,
        port: this.config.systemPort,
        logger: this.logger,
        metrics: () => this.pipeline.scrape(),
        health: () => this.health(),
      });
      try {
        await server.start();
      } catch (err) {
        await this.transport?.close();
        this.transport = undefined;
        throw err;
      }
      this.statusServer = server;
    }
    // `once`: a second Ctrl-C while shutting down gets Node's default, an immediate exit.
    if (this.handleSignals && !this.signalsInstalled) {
      this.signalsInstalled = true;
      process.once('SIGINT', this.onSignal);
      process.once('SIGTERM', this.onSignal);
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
    return this.pipeline.meterProvider;
  }

  /**
   * Everything this runtime measures as an OpenTelemetry `MetricProducer`, for readers of yours:
   * `new PeriodicExportingMetricReader({ exporter, metricProducers: [runtime.metricProducer] })`,
   * or the stock `PrometheusExporter({ metricProducers: [...] })`. One `ScopeMetrics` per endpoint,
   * cumulative; empty once the runtime is shut down. See docs/otlp.md.
   */
  get metricProducer(): MetricProducer {
    return this.pipeline.metricProducer;
  }

  /** The reader behind /metrics: the embedded one, or the `prometheusReader` you passed with your own provider. */
  get prometheusReader(): PrometheusReader {
    return this.pipeline.prometheusReader;
  }

  /** The Prometheus exposition, exactly as /metrics serves it. */
  async metricsText(): Promise<string> {
    let out = '';
    for await (const chunk of this.pipeline.scrape()) out += chunk;
    return out;
  }

  /** Pushes the current metrics to OTLP now (no-op without OTLP or with your own provider). */
  forceFlush(): Promise<void> {
    return this.pipeline.flush();
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
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    await Promise.all([...this.ctx.endpoints.values()].map((ep) => ep.stopServing(this.ctx.shutdownGraceMs)));
    for (const ep of this.ctx.endpoints.values()) ep.setServing(false);
    this.responder?.stop();
    // One final export (OTLP) happens here; /metrics answers 503 for the moments left.
    await this.pipeline.shutdown().catch((err: unknown) => this.logger.warn('final metrics flush failed', { error: err }));
    this.ctx.registry.unregisterExternal();
    await this.transport?.close();
    await this.statusServer?.close();
    this.statusServer = undefined;
    this.logger.info('runtime shut down', { instance: this.instanceId });
  }
}
