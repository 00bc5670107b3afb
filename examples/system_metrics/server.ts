/**
 * The seed's `system_server`, in TypeScript: serves example_namespace/example_component/
 * example_endpoint with a handler that streams its input back piece by piece. The automatic
 * endpoint metrics need no code in the handler; the custom metric
 * `dynamo_component_bytes_processed_total` is added on top.
 *
 *   DYN_SYSTEM_ENABLED=true DYN_SYSTEM_PORT=8081 npm run system_server
 */
import { DistributedRuntime, Ingress, type CustomCounter, type Endpoint, type Engine } from '../../src/index.ts';

/** The optional custom metrics, created from the endpoint so they carry its labels. */
class CustomMetrics {
  readonly dataBytesProcessed: CustomCounter;

  private constructor(dataBytesProcessed: CustomCounter) {
    this.dataBytesProcessed = dataBytesProcessed;
  }

  static fromEndpoint(endpoint: Endpoint): CustomMetrics {
    return new CustomMetrics(
      endpoint.createCounter({
        name: 'bytes_processed',
        description: 'Example of a custom metric. Total number of data bytes processed by system handler',
      }),
    );
  }
}

class RequestHandler implements Engine<string, string> {
  private metrics: CustomMetrics | undefined;

  /** Streams the request back one character at a time. No measurement code needed here. */
  async *generate(input: string): AsyncGenerator<string> {
    const text = String(input);
    this.metrics?.dataBytesProcessed.add(Buffer.byteLength(text));
    for (const piece of text) yield piece;
  }

  /** Called by `ingress.addMetrics(endpoint)`: custom metrics in addition to the automatic ones. */
  addMetrics(endpoint: Endpoint): void {
    this.metrics = CustomMetrics.fromEndpoint(endpoint);
  }
}

const runtime = await DistributedRuntime.create();
const endpoint = runtime.namespace('example_namespace').component('example_component').endpoint('example_endpoint');

const ingress = Ingress.forEngine(new RequestHandler());
if (process.env['EXAMPLE_CUSTOM_METRICS'] !== 'false') ingress.addMetrics(endpoint);
await endpoint.serve(ingress);

const port = runtime.systemPort;
console.log(
  port === undefined
    ? `serving ${endpoint.path} (status server off: set DYN_SYSTEM_ENABLED=true to get /metrics)`
    : `serving ${endpoint.path}; metrics at http://127.0.0.1:${port}/metrics`,
);
