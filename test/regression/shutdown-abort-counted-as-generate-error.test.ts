/**
 * Bug: a stream still running when the stop's grace period ended was counted as a `generate`
 * error — an endpoint error for what was the operator's decision. It is a cancellation
 * (`reason="shutdown"`) and never an `error_type`.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { CANCEL_REASONS, DistributedRuntime, ERROR_TYPES, RemoteError } from '../../src/index.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { onNats } from '../helpers/runtime.ts';

let nats: NatsServer;
before(async () => {
  nats = await startNatsServer();
});
after(() => nats.stop());

it('a stream aborted at the end of the grace period is a shutdown cancellation, not a generate error', async () => {
  const server = await DistributedRuntime.create(onNats(nats.url));
  const caller = await DistributedRuntime.create(onNats(nats.url));
  try {
    const ep = server.namespace('ns').component('c').endpoint('stuck');
    await ep.serve(async function* () {
      yield 'started';
      await new Promise(() => {});
    });
    const client = await caller.namespace('ns').component('c').endpoint('stuck').client();
    await client.waitForInstances();
    const stream = client.generate('x');
    assert.deepEqual(await stream.next(), { value: 'started', done: false });
    await ep.stopServing(100);
    await assert.rejects(stream.next(), (e: unknown) => e instanceof RemoteError && e.errorType === 'shutting_down');
    const f = parseExposition(await server.metricsText());
    const L = { dynamo_namespace: 'ns', dynamo_component: 'c', dynamo_endpoint: 'stuck' };
    assert.deepEqual(ERROR_TYPES.map((error_type) => sampleValue(f, 'dynamo_component_errors_total', 'dynamo_component_errors_total', { ...L, error_type })), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(CANCEL_REASONS.map((reason) => sampleValue(f, 'dynamo_component_cancellation_total', 'dynamo_component_cancellation_total', { ...L, reason })), [0, 0, 1]);
    assert.equal(sampleValue(f, 'dynamo_component_inflight_requests', 'dynamo_component_inflight_requests', L), 0);
    await client.close();
  } finally {
    await caller.shutdown();
    await server.shutdown();
  }
});
