// An ES module application on the embedded SDK, tracing with its own tracer provider.
import { TracerProvider } from '@opentelemetry/sdk-trace';
import * as dynamo from 'dynamo-otel';
import exercise from './exercise.cjs';

const result = await exercise(dynamo, { tracerProvider: new TracerProvider() });
console.log(JSON.stringify({ ...result, loaded: import.meta.resolve('dynamo-otel') }));
