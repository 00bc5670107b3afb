/**
 * One per process: owns the metrics pipeline, the hierarchy of names, the system status server
 * and shutdown. Nothing here is global: two runtimes in one process do not see each other.
 */
import { randomUUID } from 'node:crypto';
import type { MeterProvider } from '@opentelemetry/api';
import { resolveConfig, type ResolvedConfig, type SystemServerOptions } from '../config/runtime-config.ts';
import type { Env } from '../config/env.ts';
import { DynamoError, ErrorCode } from '../errors.ts';
import { createLogger, type Logger, type LogLevel, type LogSink } from '../logging/logger.ts';
import { CustomMetricsRegistry } from '../metrics/custom-metrics.ts';
import { MetricsPipeline } from '../metrics/pipeline.ts';
import type { PrometheusReader } from '../metrics/prometheus-reader.ts';
import { healthReport, NatsState, type HealthReport } from '../system/health.ts';
import { SystemStatusServer } from '../system/status-server.ts';
import type { RuntimeContext } from './context.ts';
import type { Endpoint } from './endpoint.ts';
import { Namespace } from './namespace.ts';

export interface DistributedRuntimeOptions {
  /** Environment to read `DYN_*`, `NATS_SERVER` and `OTEL_*` from. Default `process.env`. */
  env?: Env;
  /** System status server settings; each field overrides its env variable. */
  system?: SystemServerOptions;
  /** Log level. Default: `DYN_LOG`, else `warn`. */
  logLevel?: LogLevel;
  /** Where log lines go. Default: stderr. */
  logSink?: LogSink;
  /** Use this OpenTelemetry `MeterProvider` instead of the embedded SDK. Add `runtime.prometheusReader` to it to keep /metrics. */
  meterProvider?: MeterProvider;
  /** `service.name` of the resource. Default: `OTEL_SERVICE_NAME`, else `dynamo`. */
  serviceName?: string;
  /** Add `otel_scope_name`/`otel_scope_version` labels to every series on /metrics. Default `false`. */
  withScopeLabels?: boolean;
  /** Default duration buckets (seconds) for all endpoints. Default: `DYN_METRICS_DURATION_BUCKETS`, else the package default. */
  durationBuckets?: readonly number[];
}

export class DistributedRuntime {
  readonly instanceId: string = randomUUID();
  readonly logger: Logger;
  readonly config: ResolvedConfig;
  private readonly pipeline: MetricsPipeline;
  private readonly ctx: RuntimeContext;
  private readonly namespaces = new Map<string, Namespace>();
  private readonly startMark = performance.now();
  private statusServer: SystemStatusServer | undefined;
  private closed = false;

  /** Validates options and env; starts nothing. Use `DistributedRuntime.create()`. */
  constructor(options: DistributedRuntimeOptions = {}) {
    this.config = resolveConfig({
      env: options.env ?? process.env,
      system: options.system,
      logLevel: options.logLevel,
      durationBuckets: options.durationBuckets,
      serviceName: options.serviceName,
    });
    this.logger = createLogger(this.config.logLevel, options.logSink);
    this.pipeline = new MetricsPipeline({
      serviceName: this.config.serviceName,
      instanceId: this.instanceId,
      withScopeLabels: options.withScopeLabels ?? false,
      meterProvider: options.meterProvider,
      startMark: this.startMark,
    });
    this.pipeline.prometheusReader.onCollectError = (error) => this.logger.once(`collect:${String(error)}`, 'warn', 'metric collection error', { error });
    const endpoints = new Map<string, Endpoint>();
    this.ctx = {
      logger: this.logger,
      pipeline: this.pipeline,
      registry: new CustomMetricsRegistry(this.logger),
      durationBuckets: this.config.durationBuckets,
      endpoints,
      assertOpen: () => {
        if (this.closed) throw new DynamoError(ErrorCode.RuntimeClosed, 'the DistributedRuntime has been shut down');
      },
    };
  }

  /** Builds a runtime and starts it (status server when enabled). */
  static async create(options: DistributedRuntimeOptions = {}): Promise<DistributedRuntime> {
    const runtime = new DistributedRuntime(options);
    await runtime.start();
    return runtime;
  }

  async start(): Promise<void> {
    this.ctx.assertOpen();
    if (this.config.systemEnabled && this.statusServer === undefined) {
      const server = new SystemStatusServer({
        host: this.config.systemHost,
        port: this.config.systemPort,
        logger: this.logger,
        metrics: () => this.pipeline.scrape(),
        health: () => this.health(),
      });
      await server.start();
      this.statusServer = server;
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

  /** The reader behind /metrics. With your own `MeterProvider`, add it to the provider's readers. */
  get prometheusReader(): PrometheusReader {
    return this.pipeline.prometheusReader;
  }

  /** The Prometheus exposition, exactly as /metrics serves it. */
  metricsText(): Promise<string> {
    return this.pipeline.scrape();
  }

  health(): HealthReport {
    const endpoints = [...this.ctx.endpoints.values()].map((ep) => ({ path: ep.path, started: ep.started, serving: ep.serving }));
    return healthReport({ nats: NatsState.NotConfigured, uptimeSeconds: (performance.now() - this.startMark) / 1000, endpoints });
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const ep of this.ctx.endpoints.values()) ep.setServing(false);
    await this.statusServer?.close();
    this.statusServer = undefined;
    await this.pipeline.shutdown();
  }
}
