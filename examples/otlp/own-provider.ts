/**
 * Bring your own OpenTelemetry SDK: the endpoint metrics flow to every reader of your
 * MeterProvider (here a console exporter), and /metrics keeps working through a PrometheusReader
 * you add to the same provider.
 *
 *   DYN_SYSTEM_ENABLED=true DYN_SYSTEM_PORT=8081 npm run example:own-provider
 */
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { DistributedRuntime, PrometheusReader } from '../../src/index.ts';

const prometheusReader = new PrometheusReader();
const provider = new MeterProvider({
  resource: resourceFromAttributes({ 'service.name': 'my-app' }),
  readers: [new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: 60_000 }), prometheusReader],
});

const runtime = await DistributedRuntime.create({ meterProvider: provider, prometheusReader });
const endpoint = runtime.namespace('example_namespace').component('example_component').endpoint('example_endpoint');
await endpoint.serve((text: string) => text.toUpperCase());
const client = await endpoint.client();
await client.waitForInstances();
console.log(await client.generate('hello from my own provider').collect());
await client.close();

if (runtime.systemPort !== undefined) console.log(`/metrics: http://127.0.0.1:${runtime.systemPort}/metrics`);
console.log((await runtime.metricsText()).split('\n').filter((l) => l.startsWith('dynamo_component_requests_total')).join('\n'));
await runtime.shutdown();
await provider.shutdown(); // your provider, your shutdown: the console exporter prints the endpoint metrics
