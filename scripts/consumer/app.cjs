// A CommonJS application (`require`) on the embedded SDK, tracing with its own tracer provider. With `EXPECT_MISSING` set to a package
// name, it checks instead that starting with that package absent (the OTLP exporter of the
// protocol asked for, or the runtime health instrumentation with DYN_RUNTIME_METRICS=true) is a
// clear error.
const dynamo = require('dynamo-otel');
const exercise = require('./exercise.cjs');

async function main() {
  if (process.env.EXPECT_MISSING) {
    try {
      await dynamo.DistributedRuntime.create({ nats: false, handleSignals: false });
    } catch (err) {
      console.log(JSON.stringify({ code: err.code, message: err.message, isDynamoError: err instanceof dynamo.DynamoError }));
      return;
    }
    throw new Error(`create() succeeded without ${process.env.EXPECT_MISSING}`);
  }
  const { TracerProvider } = require('@opentelemetry/sdk-trace');
  const result = await exercise(dynamo, { tracerProvider: new TracerProvider() });
  console.log(JSON.stringify({ ...result, loaded: require.resolve('dynamo-otel') }));
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
