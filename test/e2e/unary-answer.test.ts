/**
 * A handler that returns one value is answered with one `last` message — the response and the end
 * of the stream together (docs/protocol.md) — and its metrics stay exact: the bytes are the
 * response's, it is one response, and its time to first response is its duration (one clock read
 * serves both). Read off the wire by a raw NATS connection, not through the package's client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { DistributedRuntime, type Endpoint } from '../../src/index.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { rawRequest } from '../helpers/raw-request.ts';
import { onNats } from '../helpers/runtime.ts';
import { waitFor } from '../helpers/wait.ts';

interface Seen {
  kind: string | undefined;
  contentType: string | undefined;
  load: string | undefined;
  instance: string | undefined;
  body: string;
}

describe('a handler’s one value is answered in one message', () => {
  let nats: NatsServer;
  let server: DistributedRuntime;
  let caller: DistributedRuntime;
  let raw: NatsConnection;
  const seen = new Map<string, Seen[]>();
  const endpoints = new Map<string, Endpoint>();

  before(async () => {
    nats = await startNatsServer();
    server = await DistributedRuntime.create({ ...onNats(nats.url), runtimeMetrics: false });
    caller = await DistributedRuntime.create({ ...onNats(nats.url), runtimeMetrics: false });
    const component = server.namespace('ns').component('unary');
    const handlers: Record<string, (req: unknown) => unknown> = {
      sync: (req) => req,
      async: async (req) => req,
      none: () => undefined,
      bytes: () => new Uint8Array([0, 1, 2, 255]),
      one: async function* (req) {
        yield req;
      },
    };
    for (const [name, handler] of Object.entries(handlers)) {
      const ep = component.endpoint(name);
      await ep.serve(handler);
      endpoints.set(name, ep);
    }
    raw = await connect({ servers: nats.url });
    raw.subscribe('_INBOX.unary.*', {
      callback: (_err, msg: Msg) => {
        const h = msg.headers;
        const list = seen.get(msg.subject) ?? [];
        list.push({ kind: h?.get('Dynamo-Kind'), contentType: h?.get('Dynamo-Content-Type') || undefined, load: h?.get('Dynamo-Load') || undefined, instance: h?.get('Dynamo-Instance'), body: Buffer.from(msg.data).toString('latin1') });
        seen.set(msg.subject, list);
      },
    });
    await raw.flush();
  });
  after(async () => {
    await raw.close();
    await caller.shutdown();
    await server.shutdown();
    await nats.stop();
  });

  /** Sends a raw request and returns every message its reply subject got, in order. */
  async function ask(name: string, body: string): Promise<Seen[]> {
    const ep = endpoints.get(name)!;
    const r = rawRequest(ep.subject, body, { inbox: '_INBOX.unary' });
    const reply = r.reply;
    raw.publish(ep.subject, r.data, { reply, headers: r.headers });
    await waitFor(() => seen.get(reply)?.some((m) => m.kind === 'last' || m.kind === 'end'), { what: `the end of ${name}'s stream` });
    // NATS keeps one publisher's order: once a later request of the same endpoint has ended, every
    // message of this one has arrived.
    const sentinel = rawRequest(ep.subject, '"sentinel"', { inbox: '_INBOX.unary' });
    raw.publish(ep.subject, sentinel.data, { reply: sentinel.reply, headers: sentinel.headers });
    await waitFor(() => seen.get(sentinel.reply)?.some((m) => m.kind === 'last' || m.kind === 'end'), { what: 'the sentinel answered' });
    return seen.get(reply)!;
  }

  it('a value, returned or resolved, is one `last` message: the response, its content type (none for JSON), the instance and its load', async () => {
    const instance = server.instanceId;
    const last = (body: string, contentType?: string): Seen => ({ kind: 'last', contentType, load: '0', instance, body });
    assert.deepEqual(await ask('sync', '"hello"'), [last('"hello"')]);
    assert.deepEqual(await ask('async', '{"a":[1,2]}'), [last('{"a":[1,2]}')]);
    assert.deepEqual(await ask('bytes', '1'), [last('\u0000\u0001\u0002\u00ff', 'application/octet-stream')]);
    // no value: no response, only the end
    assert.deepEqual(await ask('none', '1'), [{ kind: 'end', contentType: undefined, load: '0', instance, body: '{"count":0}' }]);
    // a stream of one response stays a stream: its end cannot be known when the response goes
    assert.deepEqual(await ask('one', '"x"'), [
      { kind: 'data', contentType: undefined, load: undefined, instance, body: '"x"' },
      { kind: 'end', contentType: undefined, load: '0', instance, body: '{"count":1}' },
    ]);
  });

  it('the metrics of one-message answers are exact: the bytes are the response’s, one response each, time to first response = duration', async () => {
    const ep = server.namespace('ns').component('unary').endpoint('sync');
    const client = await caller.namespace('ns').component('unary').endpoint('sync').client();
    await client.waitForInstances();
    const before = ep.recorder.responseBytes;
    const bodies = ['"a"', '{"k":"vv"}', '[1,2,3]', '12345'];
    for (const body of bodies) assert.deepEqual(await client.generate(JSON.parse(body)).collect(), [JSON.parse(body)]);
    const stream = client.generate('done');
    assert.deepEqual(await stream.collect(), ['done']);
    assert.equal(stream.complete, true);
    const sent = [...bodies, '"done"'].reduce((sum, b) => sum + b.length, 0);
    assert.equal(ep.recorder.responseBytes - before, sent);

    const f = parseExposition(await server.metricsText());
    const L = { dynamo_namespace: 'ns', dynamo_component: 'unary', dynamo_endpoint: 'sync' };
    const v = (family: string, sample = family) => sampleValue(f, family, sample, L);
    const requests = v('dynamo_component_requests_total');
    assert.equal(v('dynamo_component_responses_total'), requests);
    const ttfr = 'dynamo_component_time_to_first_response_seconds';
    const duration = 'dynamo_component_request_duration_seconds';
    assert.equal(v(ttfr, `${ttfr}_count`), requests);
    assert.equal(v(duration, `${duration}_count`), requests);
    // one clock read ends both: the same observations, to the last bit
    assert.equal(ep.recorder.firstResponse.sum, ep.recorder.duration.sum);
    assert.deepEqual([...ep.recorder.firstResponse.counts], [...ep.recorder.duration.counts]);
    // the caller counts what it received: the responses' bytes, nothing for an end message
    const cf = parseExposition(await caller.metricsText());
    assert.equal(sampleValue(cf, 'dynamo_client_response_bytes_total', 'dynamo_client_response_bytes_total', L), sent);
    assert.equal(sampleValue(cf, 'dynamo_client_requests_total', 'dynamo_client_requests_total', L), bodies.length + 1);
    // and on the caller's side too, one clock read marks the first response and the end
    const cttfr = 'dynamo_client_time_to_first_response_seconds';
    const cduration = 'dynamo_client_request_duration_seconds';
    assert.equal(sampleValue(cf, cttfr, `${cttfr}_count`, L), bodies.length + 1);
    assert.equal(sampleValue(cf, cttfr, `${cttfr}_sum`, L), sampleValue(cf, cduration, `${cduration}_sum`, L));
    await client.close();
  });
});
