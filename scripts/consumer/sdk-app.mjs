// An application with its own OpenTelemetry SDK (@opentelemetry/sdk-node) started before the
// runtime: the runtime records into the global provider, /metrics keeps working through a
// PrometheusReader the application added to its readers, OTLP goes out through the application's
// own reader and exporter, flushed by its own sdk.shutdown().
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import * as dynamo from 'dynamo-otel';
import exercise from './exercise.cjs';

const prometheusReader = new dynamo.PrometheusReader();
const otlp = new PeriodicExportingMetricReader({
  exporter: new OTLPMetricExporter({ url: `${process.env.RECEIVER_URL}/v1/metrics` }),
  exportIntervalMillis: 600000,
});
const sdk = new NodeSDK({ serviceName: process.env.OTEL_SERVICE_NAME, metricReaders: [prometheusReader, otlp], instrumentations: [], autoDetectResources: false });
sdk.start();
const result = await exercise(dynamo, { meterProvider: 'global', prometheusReader });
await sdk.shutdown();
console.log(JSON.stringify({ ...result, loaded: import.meta.resolve('dynamo-otel') }));
