/**
 * Headers across the request plane: what a caller may add (and what it may not), what a handler
 * reads, and crafted trace context from a raw NATS connection (no code of our client), which must
 * never crash an instance or break the request it came with.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { DistributedRuntime, ErrorCode, type EndpointClient, type Endpoint, type RequestContext } from '../../src/index.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { rawRequest } from '../helpers/raw-request.ts';
import { onNats } from '../helpers/runtime.ts';
import { inMemoryTracing, installTraceGlobals } from '../helpers/tracing.ts';
import { waitFor } from '../helpers/wait.ts';

installTraceGlobals();

describe('request headers', () => {
  let nats: NatsServer;
  let rt: DistributedRuntime;
  let endpoint: Endpoint;
  let client: EndpointClient;
  let raw: NatsConnection;
  const tracing = inMemoryTracing();

  before(async () => {
    nats = await startNatsServer();
    rt = await DistributedRuntime.create({ ...onNats(nats.url), tracerProvider: tracing.provider });
    endpoint = rt.namespace('hdr_ns').component('hdr_comp').endpoint('hdr_ep');
    await endpoint.serve((_req: unknown, ctx: RequestContext) => ({
      one: ctx.headers.get('X-ONE') ?? null,
      many: ctx.headers.values('x-many'),
      has: ctx.headers.has('x-absent'),
      protocol: ctx.headers.get('dynamo-protocol') ?? null,
    }));
    client = await endpoint.client();
    await client.waitForInstances();
    raw = await connect({ servers: nats.url });
  });

  after(async () => {
    await raw.close();
    await rt.shutdown();
    await nats.stop();
  });

  it('hands the caller\'s headers to the handler, read-only and case-insensitive', async () => {
    const [out] = await client.generate('x', { headers: { 'x-one': '1', 'X-Many': ['a', 'b'] } }).collect();
    assert.deepEqual(out, { one: '1', many: ['a', 'b'], has: false, protocol: '2' });
  });

  it('refuses reserved and malformed headers before sending anything', async () => {
    const before = endpoint.recorder.requests;
    const refused: Array<Record<string, string | string[]>> = [
      { 'Dynamo-Key': 'x' },
      { 'dynamo-anything': 'x' },
      { 'NATS-Msg-Id': 'x' },
      { 'bad name': 'x' },
      { 'x-crlf': 'a\r\nDynamo-Key: forged' },
      { '': 'x' },
    ];
    for (const headers of refused) {
      assert.throws(() => client.generate('x', { headers }), (err: unknown) => (err as { code?: string }).code === ErrorCode.InvalidHeader, JSON.stringify(headers));
    }
    assert.throws(() => client.generate('x', { headers: { 'x-n': 5 as unknown as string } }), { code: ErrorCode.InvalidHeader });
    const many = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`x-h${i}`, 'v']));
    assert.throws(() => client.generate('x', { headers: many }), { code: ErrorCode.HeadersTooLarge });
    assert.throws(() => client.generate('x', { headers: { 'x-big': 'v'.repeat(16 * 1024) } }), { code: ErrorCode.HeadersTooLarge });
    // Nothing reached the instance; the client still works.
    assert.equal(endpoint.recorder.requests, before);
    assert.equal((await client.generate('x', { headers: { 'x-one': 'ok' } }).collect()).length, 1);
    assert.equal(endpoint.recorder.requests, before + 1);
    assert.equal(endpoint.recorder.errorCount('invalid_message'), 0);
  });

  it('counts what the propagator writes against the limits: headers and baggage that fit alone but not together are refused', async () => {
    tracing.exporter.reset();
    const before = endpoint.recorder.requests;
    const baggage = propagation.createBaggage(Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`k${i}`, { value: 'b'.repeat(1000) }])));
    const context = propagation.setBaggage(ROOT_CONTEXT, baggage);
    const big = { 'x-big': 'h'.repeat(10_000) };
    assert.equal((await client.generate('x', { context }).collect()).length, 1);
    assert.equal((await client.generate('x', { headers: big }).collect()).length, 1);
    assert.throws(() => client.generate('x', { headers: big, context }), { code: ErrorCode.HeadersTooLarge });
    assert.equal(endpoint.recorder.requests, before + 2);
    // The refused call's span ended, as an error of that code.
    const refused = await waitFor(() => tracing.spans().filter((s) => s.kind === SpanKind.CLIENT), { what: 'three client spans', until: (s) => s.length === 3 });
    assert.deepEqual(refused.map((s) => s.status.code).sort(), [SpanStatusCode.UNSET, SpanStatusCode.UNSET, SpanStatusCode.ERROR].sort());
    assert.equal(refused.find((s) => s.status.code === SpanStatusCode.ERROR)!.attributes['error.type'], ErrorCode.HeadersTooLarge);
  });

  it('serves requests with crafted trace context from a raw connection, each in a trace of its own', async () => {
    tracing.exporter.reset();
    const crafted: Array<Array<[string, string]>> = [
      [['traceparent', '00-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-zzzzzzzzzzzzzzzz-01']],
      [['traceparent', '00-00000000000000000000000000000000-0000000000000000-01']],
      [['traceparent', `ff-${'a'.repeat(32)}-${'b'.repeat(16)}-01`]],
      [['traceparent', `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`], ['traceparent', `00-${'c'.repeat(32)}-${'d'.repeat(16)}-01`]],
      [['traceparent', 'x'.repeat(8000)]],
      [['tracestate', `${'k'.repeat(300)}=${'v'.repeat(300)},=,,=x`]],
      [['baggage', `${'%'.repeat(100)}=%E0%A4%A,;;;=;,k=${'v'.repeat(7000)}`]],
      [['baggage', Array.from({ length: 500 }, (_, i) => `k${i}=v`).join(',')]],
      [['Traceparent', `00-${'1'.repeat(32)}-${'2'.repeat(16)}-ff`], ['BAGGAGE', 'a=b']],
    ];
    const replies: string[] = [];
    const inbox = '_INBOX.crafted';
    const sub = raw.subscribe(`${inbox}.*`, { callback: (_e, msg) => void replies.push(`${msg.subject} ${msg.headers?.get('Dynamo-Kind')}`) });
    const tags: string[] = [];
    for (const extra of crafted) {
      const r = rawRequest(endpoint.subject, '"crafted"', { inbox, extra });
      tags.push(r.tag);
      raw.publish(endpoint.subject, r.data, { reply: r.reply, headers: r.headers });
    }
    // a handler's one value: its response and the end in one `last` message
    await waitFor(() => tags.every((tag) => replies.includes(`${inbox}.${tag} last`)), { what: 'every crafted request answered to its end' });
    sub.unsubscribe();
    assert.equal(replies.length, crafted.length);
    const spans = await waitFor(() => tracing.spans().filter((s) => s.kind === SpanKind.SERVER), { what: 'a server span each', until: (s) => s.length === crafted.length });
    // A traceparent the W3C propagator cannot take leaves the request a root of its own trace.
    const parents = spans.map((s) => s.parentSpanContext?.spanId ?? 'root');
    assert.equal(parents.filter((p) => p === 'root').length, 7);
    assert.deepEqual(parents.filter((p) => p !== 'root').sort(), ['2'.repeat(16), 'b'.repeat(16)]);
    // The instance serves on, as before.
    assert.deepEqual(await client.generate('after', { headers: { 'x-one': 'still' } }).collect(), [{ one: 'still', many: [], has: false, protocol: '2' }]);
  });
});
