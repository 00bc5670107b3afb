/**
 * Without any OpenTelemetry SDK in the process (nothing registered with the API), tracing is
 * absent from the wire and from the handler: the request carries the protocol's headers only, the
 * handler sees no span, and no exemplar is kept.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { DistributedRuntime, ExpositionFormat, type RequestContext } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { onNats } from '../helpers/runtime.ts';

describe('tracing with no SDK registered', () => {
  let nats: NatsServer;
  let rt: DistributedRuntime;

  before(async () => {
    nats = await startNatsServer();
    rt = await DistributedRuntime.create(onNats(nats.url));
  });

  after(async () => {
    await rt.shutdown();
    await nats.stop();
  });

  it('sends no trace headers, runs the handler in no span and keeps no exemplar', async () => {
    const endpoint = rt.namespace('plain_ns').component('plain_comp').endpoint('plain_ep');
    await endpoint.serve(async function* (_req: unknown, ctx: RequestContext) {
      yield { keys: [...ctx.headers.keys()].sort(), span: trace.getSpan(context.active()) === undefined ? 'none' : 'some' };
    });
    const client = await endpoint.client();
    await client.waitForInstances();
    assert.deepEqual(await client.generate('x').collect(), [
      { keys: ['Dynamo-Content-Type', 'Dynamo-Key', 'Dynamo-Protocol', 'Dynamo-Request-Id', 'Dynamo-Window'], span: 'none' },
    ]);
    assert.equal(endpoint.recorder.durationExemplars.snapshot(), undefined);
    const om = await rt.prometheusReader.scrape(ExpositionFormat.OpenMetrics);
    assert.ok(!om.includes('trace_id'));
    assert.ok(om.endsWith('# EOF\n'));
    await client.close();
  });
});
