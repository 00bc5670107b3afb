import { hrTime } from '@opentelemetry/core';
import { DynamoError, ErrorCode } from '../errors.ts';
import { validateBuckets } from '../metrics/buckets.ts';
import { validateLabelName } from '../metrics/custom-metrics.ts';
import { ClientRecorder } from '../metrics/client-recorder.ts';
import { EndpointRecorder } from '../metrics/endpoint-recorder.ts';
import type { Meter } from '@opentelemetry/api';
import { CLIENT_ERROR_TYPES } from '../metrics/client-names.ts';
import { ERROR_TYPES, Label } from '../metrics/names.ts';
import { rpcCallSink, RpcSemconv } from '../metrics/rpc-semconv.ts';
import type { Component } from './component.ts';
import type { RuntimeContext } from './context.ts';
import { MetricsNode } from './metrics-node.ts';
import { validateName } from './names.ts';
import { validMaxConcurrency } from '../config/runtime-config.ts';
import { EndpointClient, type ClientOptions } from '../transport/client.ts';
import { EndpointServer } from '../transport/endpoint-server.ts';
import type { ServerEngine } from '../transport/request-runner.ts';
import { endpointSubject } from '../transport/protocol.ts';
import { clientTracer, serverTracer, type EndpointPath } from '../tracing/endpoint-tracing.ts';
import { rpcMethod } from '../tracing/semconv.ts';
import { Ingress, type Engine, type Handler } from './ingress.ts';

/** Options of `endpoint.serve()`. */
export interface ServeOptions {
  /**
   * Requests served at once; the excess is refused at once with `overloaded` (the caller retries
   * once on another instance, else fails `DYN_ERR_OVERLOADED`). Default: the runtime's
   * `maxConcurrency`, else `DYN_ENDPOINT_MAX_CONCURRENCY`, else no limit.
   */
  maxConcurrency?: number;
}

/** Options of `component.endpoint(name, options)`. */
export interface EndpointOptions {
  /** Constant labels added to every series of this endpoint (automatic and custom). Default none. */
  labels?: Readonly<Record<string, string>>;
  /** Duration histogram buckets in seconds (also the time-to-first-response buckets, server and caller side). Default: `DYN_METRICS_DURATION_BUCKETS`, else the package default. */
  durationBuckets?: readonly number[];
  /** Inter-response gap histogram buckets in seconds. Default: the runtime's `interResponseBuckets`, else `DYN_METRICS_INTER_RESPONSE_BUCKETS`, else `DEFAULT_INTER_RESPONSE_BUCKETS`. */
  interResponseBuckets?: readonly number[];
}

/**
 * An addressable handler inside a component, labelled `dynamo_endpoint`. Its automatic metrics
 * live in `recorder`, bound once here so the request path only does arithmetic.
 */
export class Endpoint extends MetricsNode {
  /** The endpoint's name, its `dynamo_endpoint` label. */
  readonly name: string;
  /** The component it belongs to. */
  readonly component: Component;
  /** `namespace/component/endpoint`. */
  readonly path: string;
  /** The NATS subject requests are sent to (also the queue group of its instances). */
  readonly subject: string;
  /** @internal The hot-path recording API the request plane calls; not part of the package's API. */
  readonly recorder: EndpointRecorder;
  private readonly optionsKey: string;
  /** What this runtime's clients of the endpoint saw: made with the first client, shared by all of them. */
  private callers: ClientRecorder | undefined;
  private metricsStarted = false;
  private servingState = false;
  private server: EndpointServer<Endpoint> | undefined;
  private failure: string | undefined;
  /**
   * The clients of this endpoint in this runtime, by their options: every `client()` call with the
   * same options gets the same client (one inbox subscription, one set of in-flight counts).
   */
  private readonly clients = new Map<string, Promise<EndpointClient>>();
  /** The stop in progress or done, shared by every caller; cleared when serving starts again. */
  private stopped: Promise<void> | undefined;

  /** @internal Use `component.endpoint(name)`. */
  constructor(ctx: RuntimeContext, component: Component, name: string, options: EndpointOptions) {
    validateName('endpoint', name);
    const labels = checkLabels(options.labels ?? {}, `endpoint ${name}`);
    const buckets = options.durationBuckets === undefined ? [...ctx.durationBuckets] : validateBuckets(options.durationBuckets, `endpoint ${name} durationBuckets`);
    const gaps = options.interResponseBuckets === undefined ? [...ctx.interResponseBuckets] : validateBuckets(options.interResponseBuckets, `endpoint ${name} interResponseBuckets`);
    const namespace = component.namespace.name;
    super(ctx, [namespace, component.name, name], {
      ...labels,
      [Label.Namespace]: namespace,
      [Label.Component]: component.name,
      [Label.Endpoint]: name,
    });
    this.name = name;
    this.component = component;
    this.path = `${namespace}/${component.name}/${name}`;
    this.subject = endpointSubject(namespace, component.name, name);
    this.recorder = new EndpointRecorder(this.attributes, buckets, ctx.logger, { interResponse: gaps });
    this.optionsKey = optionsKey(labels, buckets, gaps);
  }

  /** Whether the endpoint has ever started serving (its series are exported). */
  get started(): boolean {
    return this.metricsStarted;
  }

  /** Why the last `serve()` failed, while the endpoint has not served since; undefined otherwise. */
  get serveFailure(): string | undefined {
    return this.failure;
  }

  /** Whether the endpoint is currently taking requests. */
  get serving(): boolean {
    return this.servingState;
  }

  /**
   * Marks the endpoint serving (or not). The first time, its automatic series start being
   * exported — all six `error_type` series at 0 — so `rate()` works from the first scrape. When it
   * stops, its series (automatic and custom) stay for the retention period, then leave every
   * reader; serving again brings them back, counting on.
   */
  setServing(serving: boolean): void {
    if (serving && !this.metricsStarted) {
      this.metricsStarted = true;
      this.recorder.startTime = hrTime();
      if (this.ctx.rpcSemconv) this.recorder.callSink = rpcCallSink(this.metersOf(this.scopeName), RpcSemconv.serverDuration, this.attributes, this.rpcMethod, ERROR_TYPES);
    }
    if (serving) this.ctx.pipeline.addEndpoint(this.scopeName, this.recorder);
    else if (this.servingState) this.ctx.pipeline.removeEndpoint(this.scopeName);
    this.servingState = serving;
  }

  /**
   * Serves requests on this endpoint over NATS: subscribes its subject (queue group shared with
   * other instances) and its instance subject, announces it on `$SRV`, and records the automatic
   * metrics for every request. Resolves once requests can arrive.
   */
  async serve<TRequest, TResponse>(ingress: Ingress<TRequest, TResponse> | Handler<TRequest, TResponse> | Engine<TRequest, TResponse>, options: ServeOptions = {}): Promise<void> {
    this.ctx.assertOpen();
    if (this.server !== undefined) throw new DynamoError(ErrorCode.AlreadyServing, `endpoint ${this.path} is already being served by this runtime`);
    const maxConcurrency = validMaxConcurrency(options.maxConcurrency, `endpoint ${this.path} maxConcurrency`) ?? this.ctx.maxConcurrency;
    const transport = this.ctx.nats();
    const handler = (ingress instanceof Ingress ? ingress : Ingress.forEngine(ingress)).handler;
    const server = new EndpointServer<Endpoint>({
      nc: transport.nc,
      subject: this.subject,
      instanceId: this.ctx.instanceId,
      engine: handler as ServerEngine<Endpoint>,
      observer: this.recorder,
      endpoint: this,
      logger: this.ctx.logger,
      stallTimeoutMs: this.ctx.streamStallTimeoutMs,
      maxConcurrency,
      tracer: serverTracer(this.ctx.tracerProvider, this.tracePath(), this.ctx.instanceId),
    });
    this.server = server;
    this.stopped = undefined;
    this.recorder.concurrencyLimit = maxConcurrency ?? 0;
    this.setServing(true);
    try {
      await server.start();
      const r = this.recorder;
      await this.ctx.service().add({
        // The service API's endpoint names are `[-\w]+`: the path joined by `-` (the metadata and the subject carry the hierarchy exactly).
        name: `${this.component.namespace.name}-${this.component.name}-${this.name}`,
        subject: this.subject,
        instanceSubject: server.instanceSubject,
        metadata: { dynamo_namespace: this.component.namespace.name, dynamo_component: this.component.name, dynamo_endpoint: this.name },
        stats: () => ({ num_requests: r.requests, num_errors: r.errors.reduce((a, b) => a + b, 0), processing_time: r.durationSum * 1e9, last_error: server.lastError }),
      });
    } catch (err) {
      this.server = undefined;
      this.setServing(false);
      // /health shows why, without holding the whole runtime not-ready: serve() threw, and the
      // application decides (serve again, or exit).
      this.failure = err instanceof Error ? err.message : String(err);
      this.ctx.logger.error('endpoint failed to start serving', { endpoint: this.path, error: err });
      await server.stop(0);
      throw err;
    }
    this.failure = undefined;
    this.ctx.logger.info('endpoint serving', { endpoint: this.path, subject: this.subject, instance: this.ctx.instanceId });
  }

  /**
   * Stops taking requests without losing any already on their way here, and waits (up to
   * `graceMs`) for in-flight ones. Every caller — `stopServing()` twice, or `stopServing()` then
   * `runtime.shutdown()` — gets the same promise.
   */
  stopServing(graceMs: number = this.ctx.shutdownGraceMs): Promise<void> {
    const server = this.server;
    if (server === undefined) return this.stopped ?? Promise.resolve();
    if (this.stopped === undefined) {
      this.setServing(false);
      this.ctx.service().remove(this.subject);
      this.stopped = server.stop(graceMs).then(() => {
        this.server = undefined;
      });
    }
    return this.stopped;
  }

  /**
   * A client for this endpoint, ready to send (call `waitForInstances()` to wait for servers).
   * Every call with the same options gets the same client: call `close()` once per call; the
   * last one closes it.
   */
  async client(options: ClientOptions = {}): Promise<EndpointClient> {
    this.ctx.assertOpen();
    const key = [options.router, options.timeoutMs, options.window, options.discoveryWindowMs].map(String).join('|');
    let shared = this.clients.get(key);
    if (shared === undefined) {
      const client = new EndpointClient(this.ctx.nats(), this.subject, this.ctx.logger, options, clientTracer(this.ctx.tracerProvider, this.tracePath()), this.callerMetrics());
      shared = client.start().then(() => client);
      this.clients.set(key, shared);
      shared.catch(() => this.clients.delete(key));
    }
    const client = await shared;
    if (client.isClosed) {
      // Its last holder closed it while this call waited: start a fresh one.
      if (this.clients.get(key) === shared) this.clients.delete(key);
      return this.client(options);
    }
    client.retain();
    return client;
  }

  private tracePath(): EndpointPath {
    return { namespace: this.component.namespace.name, component: this.component.name, endpoint: this.name, subject: this.subject };
  }

  /**
   * The caller-side recorder of this endpoint, one per runtime: its `dynamo_client_*` series start
   * being exported, at 0, when the first client of the endpoint is made — never for an endpoint
   * nobody called. Its histograms use the endpoint's duration buckets.
   */
  private callerMetrics(): ClientRecorder {
    if (this.callers === undefined) {
      this.callers = new ClientRecorder(this.attributes, Array.from(this.recorder.duration.bounds), this.ctx.logger);
      const scope = `${this.scopeName}/client`;
      this.ctx.pipeline.addCaller(scope, this.callers);
      if (this.ctx.rpcSemconv) this.callers.callSink = rpcCallSink(this.metersOf(scope), RpcSemconv.clientDuration, this.attributes, this.rpcMethod, CLIENT_ERROR_TYPES);
    }
    return this.callers;
  }

  /** The scope's meter on the runtime's provider, and on the application's when one is given. */
  private metersOf(scope: string): Meter[] {
    const external = this.ctx.pipeline.externalMeter(scope);
    return external === undefined ? [this.ctx.pipeline.meter(scope)] : [this.ctx.pipeline.meter(scope), external];
  }

  /** `rpc.method` of this endpoint: the same in spans and in the opt-in RPC metrics. */
  private get rpcMethod(): string {
    return rpcMethod(this.component.namespace.name, this.component.name, this.name);
  }

  /** @internal */
  assertSameOptions(options: EndpointOptions): void {
    const labels = checkLabels(options.labels ?? {}, `endpoint ${this.name}`);
    const buckets = options.durationBuckets === undefined ? [...this.ctx.durationBuckets] : validateBuckets(options.durationBuckets, `endpoint ${this.name}`);
    const gaps = options.interResponseBuckets === undefined ? [...this.ctx.interResponseBuckets] : validateBuckets(options.interResponseBuckets, `endpoint ${this.name}`);
    if (optionsKey(labels, buckets, gaps) !== this.optionsKey) {
      throw new DynamoError(ErrorCode.EndpointConflict, `endpoint ${this.path} already exists with different labels or buckets`);
    }
  }
}

function checkLabels(labels: Readonly<Record<string, string>>, where: string): Record<string, string> {
  if (labels === null || typeof labels !== 'object') throw new DynamoError(ErrorCode.InvalidLabel, `${where}: labels must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    validateLabelName(key, where);
    // Every automatic series of the endpoint carries its constant labels, `dynamo_component_cancellation_total` among them.
    if (key === Label.Reason) throw new DynamoError(ErrorCode.InvalidLabel, `${where}: label ${key} is reserved for dynamo_component_cancellation_total`);
    if (typeof value !== 'string') {
      throw new DynamoError(ErrorCode.InvalidLabel, `${where}: label ${key} must have a string value, got ${typeof value}`);
    }
    out[key] = value;
  }
  return out;
}

function optionsKey(labels: Record<string, string>, buckets: readonly number[], gaps: readonly number[]): string {
  return JSON.stringify([Object.entries(labels).sort(), buckets, gaps]);
}
