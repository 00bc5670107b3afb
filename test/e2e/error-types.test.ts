import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { rawRequest as handBuilt } from '../helpers/raw-request.ts';
import { DistributedRuntime, ERROR_TYPES, ErrorCode, RemoteError, type Endpoint, type EndpointClient } from '../../src/index.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { eventually } from '../helpers/tools.ts';

const MAX_PAYLOAD = 8192;

type Mode = 'ok' | 'throw_before' | 'throw_after' | 'too_large' | 'final_too_large';

describe('the six error types, each driven for real', () => {
  let nats: NatsServer;
  let server: DistributedRuntime;
  let clientRt: DistributedRuntime;
  let ep: Endpoint;
  let client: EndpointClient;
  let raw: NatsConnection;

  before(async () => {
    nats = await startNatsServer({ maxPayload: MAX_PAYLOAD });
    const opts = { env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} };
    server = await DistributedRuntime.create(opts);
    clientRt = await DistributedRuntime.create(opts);
    ep = server.namespace('ns').component('comp').endpoint('faulty');
    await ep.serve(async function* (req: { mode: Mode }) {
      switch (req.mode) {
        case 'throw_before':
          throw new Error('boom before the first response');
        case 'throw_after':
          yield 'first';
          throw new Error('boom after the first response');
        case 'too_large':
          yield 'x'.repeat(MAX_PAYLOAD * 2);
          yield 'never sent';
          return;
        case 'final_too_large':
          yield 'small';
          return 'y'.repeat(MAX_PAYLOAD * 2);
        default:
          yield 'fine';
      }
    });
    client = await clientRt.namespace('ns').component('comp').endpoint('faulty').client();
    await client.waitForInstances();
    raw = await connect({ servers: nats.url });
  });

  after(async () => {
    await raw.close();
    await client.close();
    await clientRt.shutdown();
    await server.shutdown();
    await nats.stop();
  });

  async function errorsOf(): Promise<Record<string, number>> {
    const f = parseExposition(await server.metricsText());
    return Object.fromEntries(
      ERROR_TYPES.map((t) => [t, sampleValue(f, 'dynamo_component_errors_total', 'dynamo_component_errors_total', { dynamo_endpoint: 'faulty', error_type: t })]),
    );
  }

  async function rawRequest(data: Uint8Array | string, hdrs?: Record<string, string>): Promise<{ kind: string; type: string; code: string }> {
    const h = headers();
    for (const [k, v] of Object.entries(hdrs ?? {})) h.set(k, v);
    const reply = await raw.request(ep.subject, data, { timeout: 5000, ...(hdrs === undefined ? {} : { headers: h }) });
    // the NATS service API's error code comes along, for standard tooling
    return { kind: reply.headers?.get('Dynamo-Kind') ?? '', type: reply.headers?.get('Dynamo-Error-Type') ?? '', code: reply.headers?.get('Nats-Service-Error-Code') ?? '' };
  }

  const remote = (type: string, text?: RegExp) => (err: unknown) =>
    err instanceof RemoteError && err.code === ErrorCode.Remote && err.errorType === type && (text === undefined || text.test(err.message));

  it('counts each at its moment, answers where there is someone to answer, and in-flight returns to 0', async () => {
    // deserialization: garbage bytes (not JSON, not UTF-8)
    assert.deepEqual(await rawRequest(new Uint8Array([0xff, 0xfe, 0x00, 0x41])), { kind: 'error', type: 'deserialization', code: '400' });
    // invalid_message: decodes as JSON, but carries no protocol headers
    assert.deepEqual(await rawRequest('{"mode":"ok"}'), { kind: 'error', type: 'invalid_message', code: '400' });
    // response_stream: a valid request with no reply subject
    raw.publish(ep.subject, '{"mode":"ok"}', { headers: handBuilt(ep.subject, '{"mode":"ok"}').headers });
    await raw.flush();
    // generate, twice: before and after the first response
    await assert.rejects(client.generate({ mode: 'throw_before' }).collect(), remote('generate', /boom before the first response/));
    const after = client.generate<string>({ mode: 'throw_after' });
    assert.deepEqual(await after.next(), { value: 'first', done: false });
    await assert.rejects(after.next(), remote('generate', /boom after the first response/));
    // publish_response: a response larger than the server's max_payload
    await assert.rejects(client.generate({ mode: 'too_large' }).collect(), remote('publish_response', /max_payload/));
    // publish_final: the end-of-stream message (carrying the generator's return value) is too large
    const fin = client.generate<string>({ mode: 'final_too_large' });
    assert.deepEqual(await fin.next(), { value: 'small', done: false });
    await assert.rejects(fin.next(), remote('publish_final', /end-of-stream/));
    // and a good one still works
    assert.deepEqual(await client.generate({ mode: 'ok' }).collect(), ['fine']);

    const errors = await eventually(async () => {
      const e = await errorsOf();
      return e['response_stream'] === 1 ? e : undefined;
    }, 5000, 'response_stream counted');
    assert.deepEqual(errors, { deserialization: 1, invalid_message: 1, response_stream: 1, generate: 2, publish_response: 1, publish_final: 1 });
    const f = parseExposition(await server.metricsText());
    const v = (name: string, sample = name) => sampleValue(f, name, sample, { dynamo_endpoint: 'faulty' });
    assert.equal(v('dynamo_component_requests_total'), 8);
    assert.equal(v('dynamo_component_inflight_requests'), 0);
    assert.equal(v('dynamo_component_request_duration_seconds', 'dynamo_component_request_duration_seconds_count'), 8);
  });
});
