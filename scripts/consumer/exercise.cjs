// What every consumer app does with the installed package, whichever way it loaded it: serve an
// endpoint, call it, read /metrics, shut down (the final OTLP export), and print one JSON line
// for scripts/consumer-test.ts to check. `options` go to DistributedRuntime.create().
module.exports = async function exercise(dynamo, options = {}) {
  const runtime = await dynamo.DistributedRuntime.create({
    handleSignals: false,
    system: { enabled: true, port: 0, host: '127.0.0.1' },
    ...options,
  });
  const endpoint = runtime.namespace('consumer').component('app').endpoint('echo');
  await endpoint.serve(async function* (text) {
    for (const word of text.split(' ')) yield word;
  });
  const client = await runtime.namespace('consumer').component('app').endpoint('echo').client({ timeoutMs: 10000 });
  await client.waitForInstances();
  const got = await client.generate('hello consumer world').collect();
  const metrics = await (await fetch(`http://127.0.0.1:${runtime.systemPort}/metrics`)).text();
  await client.close();
  await runtime.shutdown();
  return { got, metrics, instance: runtime.instanceId, version: dynamo.VERSION };
};
