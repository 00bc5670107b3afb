/**
 * The seed's `system_client`: sends one request (default "hello world") to
 * example_namespace/example_component/example_endpoint, prints the streamed reply, exits 0.
 *
 *   npm run system_client -- "some text"
 */
import { DistributedRuntime } from '../../src/index.ts';

const text = process.argv[2] ?? 'hello world';
// A client needs no status server, even when DYN_SYSTEM_ENABLED is set for the server beside it.
const runtime = await DistributedRuntime.create({ system: { enabled: false } });
try {
  const client = await runtime.namespace('example_namespace').component('example_component').endpoint('example_endpoint').client();
  await client.waitForInstances({ timeoutMs: 10_000 });
  let reply = '';
  for await (const piece of client.generate<string>(text)) {
    reply += piece;
    process.stdout.write(piece);
  }
  process.stdout.write('\n');
  if (reply !== text) throw new Error(`expected the input back, got ${JSON.stringify(reply)}`);
  await client.close();
} finally {
  await runtime.shutdown();
}
