/**
 * A pull `MetricReader` that renders what it collects as Prometheus text. The runtime's status
 * server serves it on /metrics; a user with their own `MeterProvider` adds it to their readers
 * (`runtime.prometheusReader`) and /metrics keeps working in their setup.
 */
import type { Attributes } from '@opentelemetry/api';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { MetricReader, type InstrumentType, type MetricProducer, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { ExpositionFormat, PrometheusSerializer, type PrometheusSerializerOptions, type StreamedFamily } from './prometheus-serializer.ts';

/** Options of `new PrometheusReader()`. */
export interface PrometheusReaderOptions extends PrometheusSerializerOptions {
  /** Extra producers collected with the SDK's own instruments. Default none. */
  metricProducers?: MetricProducer[];
  /** Series kept per instrument, by instrument type (the SDK's `cardinalitySelector`). Default: the SDK's 2000. */
  cardinalitySelector?: (type: InstrumentType) => number;
  /** How long a scrape waits for the resource's asynchronous attributes (detectors) before rendering `target_info` without them, ms. Default 2000. */
  resourceWaitMs?: number;
}

interface Collected {
  readonly resourceMetrics: ResourceMetrics;
  readonly streamed: StreamedFamily[];
}

/**
 * A pull `MetricReader` rendering Prometheus text: the one behind `/metrics`. Add one to your own
 * `MeterProvider` and pass it to the runtime to keep `/metrics` in your setup.
 */
export class PrometheusReader extends MetricReader {
  private readonly serializer: PrometheusSerializer;
  private readonly sources: Array<() => StreamedFamily[]> = [];
  private readonly resourceWaitMs: number;
  /** The collection scrapes share while it runs: N concurrent scrapes cost one snapshot. */
  private collecting: Promise<Collected> | undefined;

  constructor(options: PrometheusReaderOptions = {}) {
    const { metricProducers, cardinalitySelector, resourceWaitMs, ...serializerOptions } = options;
    super({ ...(metricProducers === undefined ? {} : { metricProducers }), ...(cardinalitySelector === undefined ? {} : { cardinalitySelector }) });
    this.serializer = new PrometheusSerializer(serializerOptions);
    this.resourceWaitMs = resourceWaitMs ?? 2000;
  }

  /** Whether a `MeterProvider` has taken this reader (only then can it collect). */
  get bound(): boolean {
    return this.isBound;
  }

  private isBound = false;

  protected override onInitialized(): void {
    this.isBound = true;
  }

  /**
   * Collects and renders one exposition: Prometheus text 0.0.4 by default, or OpenMetrics 1.0
   * (`'openmetrics'`, with exemplars). Errors of individual producers are reported, not thrown.
   */
  async scrape(format: ExpositionFormat = ExpositionFormat.Text): Promise<string> {
    let out = '';
    for await (const chunk of this.scrapeChunks(format)) out += chunk;
    return out;
  }

  /** The same, in chunks, for writing out as they come. */
  async *scrapeChunks(format: ExpositionFormat = ExpositionFormat.Text): AsyncGenerator<string> {
    const { resourceMetrics, streamed } = await this.collectShared();
    yield* this.serializer.chunks(resourceMetrics, streamed, format);
  }

  /** Joins the collection in progress, or starts one. */
  private collectShared(): Promise<Collected> {
    if (this.collecting === undefined) {
      const collecting = this.collectOnce();
      this.collecting = collecting;
      const done = (): void => {
        if (this.collecting === collecting) this.collecting = undefined;
      };
      collecting.then(done, done);
    }
    return this.collecting;
  }

  private async collectOnce(): Promise<Collected> {
    const collected = await this.collect();
    for (const error of collected.errors) this.onCollectError(error);
    const resourceMetrics = this.shape(collected.resourceMetrics);
    const resource = await settledResource(resourceMetrics.resource, this.resourceWaitMs);
    const streamed = this.sources.flatMap((source) => source());
    return { resourceMetrics: resource === resourceMetrics.resource ? resourceMetrics : { ...resourceMetrics, resource }, streamed };
  }

  /** @internal Adds families rendered outside the SDK's collection (the endpoint metrics' fast path). */
  addSource(source: () => StreamedFamily[]): void {
    this.sources.push(source);
  }

  /** @internal The last step of every collection (the runtime merges scopes and drops retired endpoints). */
  shape: (resourceMetrics: ResourceMetrics) => ResourceMetrics = (resourceMetrics) => resourceMetrics;

  /** Where collection errors go; the runtime points it at its logger. */
  onCollectError: (error: unknown) => void = () => {};

  protected override async onForceFlush(): Promise<void> {}


  protected override async onShutdown(): Promise<void> {}
}

/**
 * The resource once its asynchronous attributes (resource detectors) have settled, waiting at
 * most `waitMs`; past that, a resource of the attributes settled so far (reading a pending
 * resource's attributes would report a diag error on every early scrape).
 */
async function settledResource(resource: Resource, waitMs: number): Promise<Resource> {
  if (resource.asyncAttributesPending !== true || resource.waitForAsyncAttributes === undefined) return resource;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, waitMs);
  });
  await Promise.race([resource.waitForAsyncAttributes().catch(() => {}), timedOut]);
  clearTimeout(timer);
  if (resource.asyncAttributesPending !== true) return resource;
  const attributes: Attributes = {};
  for (const [key, value] of resource.getRawAttributes()) {
    if (value != null && typeof (value as { then?: unknown }).then !== 'function' && !(key in attributes)) attributes[key] = value as Attributes[string];
  }
  return resourceFromAttributes(attributes);
}
