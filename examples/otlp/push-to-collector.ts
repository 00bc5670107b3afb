/**
 * Push the endpoint metrics to an OpenTelemetry Collector over OTLP — configured by the standard
 * environment, no code:
 *
 *   otelcol --config otel-collector.yaml          # somewhere; see docs/otlp.md
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 OTEL_METRIC_EXPORT_INTERVAL=5000 \
 *   OTEL_SERVICE_NAME=example npm run example:otlp
 *
 * then `curl -s localhost:8889/metrics | grep dynamo_component` on the collector's side.
 * It serves one endpoint, sends itself a few requests, and exits after one more export.
 */
import { DistributedRuntime } from '../../src/index.ts';

const runtime = await DistributedRuntime.create({ system: { enabled: false } });
if (runtime.config.otlp === undefined) console.log('OTLP is off: set OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_METRICS_EXPORTER=otlp)');
else console.log(`pushing to ${runtime.config.otlp.url} over ${runtime.config.otlp.protocol} every ${runtime.config.otlp.intervalMs} ms`);

const endpoint = runtime.namespace('example_namespace').component('example_component').endpoint('example_endpoint');
await endpoint.serve(async function* (text: string) {
  for (const word of text.split(' ')) yield word;
});
const client = await endpoint.client();
await client.waitForInstances();
for (const text of ['hello world', 'metrics over otlp', 'one name everywhere']) {
  console.log((await client.generate<string>(text).collect()).join(' '));
}
await client.close();
await runtime.shutdown(); // flushes a final export
