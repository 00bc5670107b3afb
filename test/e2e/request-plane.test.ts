import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime, Ingress, type Endpoint } from '../../src/index.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

async function counters(rt: DistributedRuntime, ep: Endpoint) {
  const f = parseExposition(await rt.metricsText());
  const L = { dynamo_endpoint: ep.name, dynamo_component: ep.component.name };
  const v = (name: string, extra: Record<string, string> = {}, sample = name) => sampleValue(f, name, sample, { ...L, ...extra });
  return {
    requests: v('dynamo_component_requests_total'),
    requestBytes: v('dynamo_component_request_bytes_total'),
    responseBytes: v('dynamo_component_response_bytes_total'),
    inflight: v('dynamo_component_inflight_requests'),
    durationCount: v('dynamo_component_request_duration_seconds', {}, 'dynamo_component_request_duration_seconds_count'),
  };
}

describe('request plane: two instances, one client, 32 requests in flight', () => {
  let nats: NatsServer;
  const runtimes: DistributedRuntime[] = [];
  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await Promise.all(runtimes.map((r) => r.shutdown()));
    await nats.stop();
  });

  it('counts every request exactly once across both instances, bytes to the byte, in-flight back to 0, responses in order', async () => {
    const env = { NATS_SERVER: nats.url };
    const opts = { env, handleSignals: false, logSink: () => {} };
    const servers = [await DistributedRuntime.create(opts), await DistributedRuntime.create(opts)];
    const clientRt = await DistributedRuntime.create(opts);
    runtimes.push(...servers, clientRt);
    const endpoints = servers.map((rt) => rt.namespace('ns').component('comp').endpoint('stream'));
    // Streams back `n` numbered pieces of the request's text, with a small await between them.
    const handler = Ingress.forEngine(async function* (req: { text: string; n: number }) {
      for (let i = 0; i < req.n; i++) {
        if (i % 2 === 1) await new Promise((r) => setImmediate(r));
        yield `${i}:${req.text}`;
      }
    });
    for (const ep of endpoints) await ep.serve(handler);

    const client = await clientRt.namespace('ns').component('comp').endpoint('stream').client();
    assert.equal((await client.waitForInstances({ count: 2 })).length, 2);

    const N = 2000;
    let sentBytes = 0;
    let expectedResponseBytes = 0;
    let next = 0;
    const failures: string[] = [];
    const worker = async (): Promise<void> => {
      while (next < N) {
        const id = next++;
        const req = { text: `req-${id}-${'x'.repeat(id % 50)}`, n: 1 + (id % 5) };
        sentBytes += bytes(req);
        const expected = Array.from({ length: req.n }, (_, i) => `${i}:${req.text}`);
        expectedResponseBytes += expected.reduce((a, s) => a + bytes(s), 0) + bytes({ count: req.n });
        const got = await client.generate(req).collect();
        if (JSON.stringify(got) !== JSON.stringify(expected)) failures.push(`request ${id}: ${JSON.stringify(got)}`);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    assert.deepEqual(failures, []);

    const [a, b] = [await counters(servers[0]!, endpoints[0]!), await counters(servers[1]!, endpoints[1]!)];
    assert.equal(a.requests + b.requests, N);
    assert.deepEqual([a.requests, b.requests], [N / 2, N / 2], 'round-robin splits evenly');
    assert.equal(a.requestBytes + b.requestBytes, sentBytes);
    assert.equal(a.responseBytes + b.responseBytes, expectedResponseBytes);
    assert.deepEqual([a.inflight, b.inflight], [0, 0]);
    assert.equal(a.durationCount + b.durationCount, N);
    await client.close();
  });
});
