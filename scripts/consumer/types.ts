// Type-checked (never run) under each moduleResolution: the package's declarations must resolve
// and describe what an application builds with.
import type { Counter as OtelCounter } from '@opentelemetry/api';
import { DistributedRuntime, DynamoError, ErrorCode, PrometheusReader, type CustomCounter, type DistributedRuntimeOptions, type RequestContext } from 'dynamo-otel';

export async function main(): Promise<string[]> {
  const options: DistributedRuntimeOptions = { handleSignals: false, system: { enabled: true, port: 0 }, prometheusReader: new PrometheusReader() };
  const runtime = await DistributedRuntime.create(options);
  const endpoint = runtime.namespace('ns').component('c').endpoint('e', { labels: { model: 'm' } });
  const processed: CustomCounter = endpoint.createCounter({ name: 'bytes_processed', description: 'bytes', unit: 'By' });
  await endpoint.serve(async function* (text: string, ctx: RequestContext) {
    processed.add(text.length);
    if (ctx.signal.aborted) return;
    yield text;
  });
  const client = await endpoint.client();
  const got: string[] = await client.generate<string>('x').collect();
  // Not the same type as the API's instrument: no shadowing, no silent mix-up.
  const otel: OtelCounter | undefined = undefined;
  void otel;
  try {
    await runtime.shutdown();
  } catch (err) {
    if (err instanceof DynamoError && err.code === ErrorCode.RuntimeClosed) return [];
  }
  return got;
}
