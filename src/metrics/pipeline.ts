/**
 * The runtime's metrics pipeline: which `MeterProvider` instruments come from, the endpoint
 * metrics producer, and the Prometheus reader behind /metrics.
 *
 * Embedded (default): a fresh SDK `MeterProvider` with a resource naming the service and this
 * runtime instance, and our Prometheus reader. Bring-your-own: the user's provider supplies the
 * meters and `prometheusReader` is theirs to add to it.
 */
import { type Meter, type MeterProvider as ApiMeterProvider } from '@opentelemetry/api';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { MeterProvider, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { EndpointMetricsProducer } from './endpoint-producer.ts';
import { UPTIME_NAMESPACE, Label, UptimeMetric } from './names.ts';
import { PrometheusReader } from './prometheus-reader.ts';
import { VERSION } from '../version.ts';

export interface MetricsPipelineOptions {
  serviceName: string;
  instanceId: string;
  withScopeLabels: boolean;
  /** The user's provider; when absent an embedded SDK provider is built. */
  meterProvider?: ApiMeterProvider | undefined;
  /** More readers for the embedded provider (OTLP push). */
  readers?: IMetricReader[];
  /** Where the uptime clock starts (`performance.now()` mark). */
  startMark: number;
}

export class MetricsPipeline {
  readonly endpointProducer = new EndpointMetricsProducer();
  readonly prometheusReader: PrometheusReader;
  readonly meterProvider: ApiMeterProvider;
  readonly resource: Resource;
  private readonly embedded: MeterProvider | undefined;

  constructor(options: MetricsPipelineOptions) {
    this.prometheusReader = new PrometheusReader({
      metricProducers: [this.endpointProducer],
      withScopeLabels: options.withScopeLabels,
    });
    this.resource = defaultResource().merge(
      resourceFromAttributes({ 'service.name': options.serviceName, 'service.instance.id': options.instanceId }),
    );
    if (options.meterProvider === undefined) {
      this.embedded = new MeterProvider({
        resource: this.resource,
        readers: [this.prometheusReader, ...(options.readers ?? [])],
      });
      this.meterProvider = this.embedded;
    } else {
      this.embedded = undefined;
      this.meterProvider = options.meterProvider;
    }
    const startMark = options.startMark;
    this.meter('dynamo').createObservableGauge(UptimeMetric.name, { description: UptimeMetric.help, unit: UptimeMetric.unit })
      .addCallback((result) => result.observe((performance.now() - startMark) / 1000, { [Label.Namespace]: UPTIME_NAMESPACE }));
  }

  meter(scopeName: string): Meter {
    return this.meterProvider.getMeter(scopeName, VERSION);
  }

  /** Renders /metrics. */
  scrape(): Promise<string> {
    return this.prometheusReader.scrape();
  }

  /** Pushes what push readers (OTLP) hold; the Prometheus reader has nothing to flush. */
  async flush(): Promise<void> {
    if (this.embedded !== undefined) await this.embedded.forceFlush();
  }

  async shutdown(): Promise<void> {
    if (this.embedded !== undefined) await this.embedded.shutdown();
  }
}

