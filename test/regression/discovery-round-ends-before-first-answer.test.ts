// Bug: a discovery round ended 100 ms after it started when no instance had answered yet, however
// long its window: an instance too busy to answer within 100 ms (a loaded machine, a long GC) was
// reported as absent, and the directory forgot every instance. Found by `npm run test:loaded`
// (hostile-bus test 1 saw an empty round). A round now waits its whole window for the first answer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { DistributedRuntime } from '../../src/index.ts';
import { endpointSubject, instanceSubject } from '../../src/transport/protocol.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { onNats } from '../helpers/runtime.ts';

describe('regression: a discovery round ended before the first answer', () => {
  it('finds an instance that answers $SRV.INFO after 300 ms, within the window', async () => {
    const nats = await startNatsServer();
    // A slow instance, played by a raw connection: its info answer leaves 300 ms after the question.
    const slow = await connect({ servers: nats.url });
    const subject = endpointSubject('ns', 'c', 'e');
    const id = 'slow-instance';
    const info = JSON.stringify({ type: 'io.nats.micro.v1.info_response', name: 'dynamo', id, endpoints: [{ subject, metadata: { instance_subject: instanceSubject(subject, id) } }] });
    slow.subscribe('$SRV.INFO.dynamo', { callback: (_err, msg) => void setTimeout(() => msg.respond(info), 300) });
    await slow.flush();
    const rt = await DistributedRuntime.create(onNats(nats.url));
    const client = await rt.namespace('ns').component('c').endpoint('e').client({ discoveryWindowMs: 10_000 });
    assert.deepEqual(await client.refresh(), [{ instanceId: id, subject: instanceSubject(subject, id) }]);
    await client.close();
    await rt.shutdown();
    await slow.close();
    await nats.stop();
  });
});
