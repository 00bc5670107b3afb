/**
 * A pull `MetricReader` that renders what it collects as Prometheus text. The runtime's status
 * server serves it on /metrics; a user with their own `MeterProvider` adds it to their readers
 * (`runtime.prometheusReader`) and /metrics keeps working in their setup.
 */
import { MetricReader, type InstrumentType, type MetricProducer } from '@opentelemetry/sdk-metrics';
import { PrometheusSerializer, type PrometheusSerializerOptions, type StreamedFamily } from './prometheus-serializer.ts';

/** Options of `new PrometheusReader()`. */
export interface PrometheusReaderOptions extends PrometheusSerializerOptions {
  /** Extra producers collected with the SDK's own instruments. Default none. */
  metricProducers?: MetricProducer[];
  /** Series kept per instrument, by instrument type (the SDK's `cardinalitySelector`). Default: the SDK's 2000. */
  cardinalitySelector?: (type: InstrumentType) => number;
}

/**
 * A pull `MetricReader` rendering Prometheus text: the one behind `/metrics`. Add one to your own
 * `MeterProvider` and pass it to the runtime to keep `/metrics` in your setup.
 */
export class PrometheusReader extends MetricReader {
  private readonly serializer: PrometheusSerializer;
  private readonly sources: Array<() => StreamedFamily[]> = [];

  constructor(options: PrometheusReaderOptions = {}) {
    const { metricProducers, cardinalitySelector, ...serializerOptions } = options;
    super({ ...(metricProducers === undefined ? {} : { metricProducers }), ...(cardinalitySelector === undefined ? {} : { cardinalitySelector }) });
    this.serializer = new PrometheusSerializer(serializerOptions);
  }

  /** Whether a `MeterProvider` has taken this reader (only then can it collect). */
  get bound(): boolean {
    return this.isBound;
  }

  private isBound = false;

  protected override onInitialized(): void {
    this.isBound = true;
  }

  /** Collects and renders one exposition. Errors of individual producers are reported, not thrown. */
  async scrape(): Promise<string> {
    let out = '';
    for await (const chunk of this.scrapeChunks()) out += chunk;
    return out;
  }

  /** The same, in chunks, for writing out as they come. */
  async *scrapeChunks(): AsyncGenerator<string> {
    const { resourceMetrics, errors } = await this.collect();
    for (const error of errors) this.onCollectError(error);
    const streamed = this.sources.flatMap((source) => source());
    yield* this.serializer.chunks(resourceMetrics, streamed);
  }

  /** @internal Adds families rendered outside the SDK's collection (the endpoint metrics' fast path). */
  addSource(source: () => StreamedFamily[]): void {
    this.sources.push(source);
  }

  /** Where collection errors go; the runtime points it at its logger. */
  onCollectError: (error: unknown) => void = () => {};

  protected override async onForceFlush(): Promise<void> {}

  protected override async onShutdown(): Promise<void> {}
}
