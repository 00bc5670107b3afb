/**
 * Protocol 1 meets protocol 2, both ways: each side learns at once, with a clear `invalid_message`,
 * never by a timeout and never by a silent misread. The protocol-1 peer is a raw NATS connection
 * speaking the old wire format as docs/protocol.md of version 1 described it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { DistributedRuntime, RemoteError } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { viewOf } from '../helpers/scraped.ts';

describe('protocol versions', () => {
  let nats: NatsServer;
  let rt: DistributedRuntime;
  let old: NatsConnection;

  before(async () => {
    nats = await startNatsServer();
    rt = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
    old = await connect({ servers: nats.url });
  });
  after(async () => {
    await old.close();
    await rt.shutdown();
    await nats.stop();
  });

  it('a protocol-2 client calling a protocol-1 instance fails at once with its invalid_message', async () => {
    // a version-1 instance: refuses any other version with an error that names no instance
    old.subscribe('dynamo.ns.c.old', {
      queue: 'dynamo.ns.c.old',
      callback: (_err, msg) => {
        const h = headers();
        h.set('Dynamo-Protocol', '1');
        h.set('Dynamo-Kind', 'error');
        h.set('Dynamo-Error-Type', 'invalid_message');
        msg.respond(JSON.stringify({ type: 'invalid_message', message: `unsupported Dynamo-Protocol: ${msg.headers?.get('Dynamo-Protocol')}` }), { headers: h });
      },
    });
    await old.flush();
    const client = await rt.namespace('ns').component('c').endpoint('old').client({ timeoutMs: 30_000 });
    // a RemoteError, not DYN_ERR_TIMEOUT: the answer was taken, not waited out
    await assert.rejects(client.generate('hi').collect(), (err: unknown) => {
      assert.ok(err instanceof RemoteError);
      assert.equal(err.errorType, 'invalid_message');
      assert.equal(err.message, 'remote invalid_message error: an instance speaking protocol 1 refused the request: unsupported Dynamo-Protocol: 2');
      return true;
    });
    await client.close();
  });

  it('a protocol-1 request to a protocol-2 instance is answered with invalid_message naming both versions', async () => {
    const ep = rt.namespace('ns').component('c').endpoint('new');
    await ep.serve(async () => 'never');
    const h = headers();
    h.set('Dynamo-Protocol', '1');
    h.set('Dynamo-Request-Id', 'old-1');
    h.set('Dynamo-Content-Type', 'application/json');
    const answer = await old.request(ep.subject, '"hi"', { headers: h, timeout: 5000 });
    assert.equal(answer.headers?.get('Dynamo-Kind'), 'error');
    assert.equal(answer.headers?.get('Dynamo-Error-Type'), 'invalid_message');
    assert.equal(answer.headers?.get('Dynamo-Instance'), '', 'an unproven answer names no instance');
    assert.deepEqual(answer.json(), { type: 'invalid_message', message: 'Dynamo-Protocol 1 is not supported: this instance speaks protocol 2' });
    assert.equal((await viewOf(rt, 'new')).errors.invalid_message, 1);
  });
});
