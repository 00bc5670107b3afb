/**
 * The shipped NATS permissions (examples/nats-permissions/authorization.conf) on a real
 * nats-server: the intended traffic works, and what a hostile user tries is refused by the server
 * itself — or, where NATS allows it (a caller may publish cancels), changes nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DistributedRuntime, type Endpoint, type RequestContext } from '../../src/index.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { rawRequest } from '../helpers/raw-request.ts';
import { viewOf } from '../helpers/scraped.ts';
import { eventually } from '../helpers/tools.ts';

const AUTHORIZATION = readFileSync(new URL('../../examples/nats-permissions/authorization.conf', import.meta.url), 'utf8');

interface Watched {
  nc: NatsConnection;
  /** `publish <subject>` / `subscription <subject>` for every permission violation the server reported. */
  refused: string[];
}

describe('NATS permissions: the shipped configuration on a real nats-server', () => {
  let nats: NatsServer;
  let service: DistributedRuntime;
  let caller: DistributedRuntime;
  let ep: Endpoint;
  const watched: Watched[] = [];

  async function as(user: string, pass: string, inboxPrefix?: string): Promise<Watched> {
    const nc = await connect({ servers: nats.url, user, pass, ...(inboxPrefix === undefined ? {} : { inboxPrefix }) });
    const w: Watched = { nc, refused: [] };
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error' && s.error.name === 'PermissionViolationError') {
          const pe = s.error as unknown as { operation: string; subject: string };
          w.refused.push(`${pe.operation} ${pe.subject}`);
        }
      }
    })();
    watched.push(w);
    return w;
  }

  const requestsTotal = async (): Promise<number> =>
    sampleValue(parseExposition(await service.metricsText()), 'dynamo_component_requests_total', 'dynamo_component_requests_total', { dynamo_endpoint: 'stream' });

  before(async () => {
    nats = await startNatsServer({ extraConfig: AUTHORIZATION });
    const env = { NATS_SERVER: nats.url };
    service = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {}, nats: { user: 'dynamo_service', pass: 'service-secret' } });
    caller = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {}, nats: { user: 'dynamo_caller', pass: 'caller-secret', inboxPrefix: '_INBOX_caller' } });
    ep = service.namespace('ns').component('c').endpoint('stream');
    await ep.serve(async function* (req: { n: number; delayMs?: number; holdAfter?: number }, ctx: RequestContext) {
      for (let i = 0; i < req.n; i++) {
        if (req.delayMs) await new Promise((r) => setTimeout(r, req.delayMs));
        yield i;
        // Nothing more until the caller's cancel: what reaches the caller after it left is then
        // exactly the terminal message, however slow the machine (no data still on its way).
        if (i === req.holdAfter) return void (await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true })));
      }
    });
  });

  after(async () => {
    for (const w of watched) await w.nc.close();
    await caller.shutdown();
    await service.shutdown();
    await nats.stop();
  });

  it('serves the intended traffic: discovery, streams with acknowledgements, cancels', async () => {
    const client = await caller.namespace('ns').component('c').endpoint('stream').client({ window: 8 });
    assert.deepEqual((await client.waitForInstances()).map((i) => i.instanceId), [service.instanceId]);
    const results = await Promise.all(Array.from({ length: 20 }, () => client.generate<number>({ n: 100 }).collect()));
    for (const r of results) assert.deepEqual(r, Array.from({ length: 100 }, (_, i) => i));
    // a caller that stops early: the cancel reaches the service, the handler stops
    for await (const piece of client.generate<number>({ n: 10_000, holdAfter: 3 })) if (piece === 3) break;
    await eventually(async () => ((await viewOf(service, 'stream')).inflight === 0 ? true : undefined), 5000, 'cancelled stream ended');
    assert.equal(await requestsTotal(), 21);
    // the terminal message the service sends a cancelled stream reaches the client after it left
    await eventually(async () => (client.stats().unmatchedMessages === 1 ? true : undefined), 5000, 'the cancelled stream\'s terminal message');
    assert.deepEqual(client.stats(), { rejectedMessages: 0, unmatchedMessages: 1 });
    await client.close();
  });

  it('a user without the rights to serve gets DYN_ERR_NATS_PERMISSION from serve(); /health shows the endpoint failed and stays ready', async () => {
    const rt = await DistributedRuntime.create({
      env: { NATS_SERVER: nats.url, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' },
      handleSignals: false,
      logSink: () => {},
      nats: { user: 'dynamo_caller', pass: 'caller-secret', inboxPrefix: '_INBOX_caller' },
    });
    try {
      await assert.rejects(rt.namespace('ns').component('c').endpoint('forbidden').serve(() => 1), (err: unknown) => {
        assert.equal((err as { code?: string }).code, 'DYN_ERR_NATS_PERMISSION');
        assert.match((err as Error).message, /^NATS refused the subscription to dynamo\.ns\.c\.forbidden: /);
        return true;
      });
      const res = await fetch(`http://127.0.0.1:${rt.systemPort}/health`);
      const body = (await res.json()) as { endpoints: Record<string, string>; failures: Record<string, string> };
      assert.equal(res.status, 200);
      assert.deepEqual(body.endpoints, { 'ns/c/forbidden': 'failed' });
      assert.match(body.failures['ns/c/forbidden']!, /^NATS refused the subscription/);
    } finally {
      await rt.shutdown();
    }
  });

  it('refuses what a stranger, another caller and the service itself must not do', async () => {
    const before = await requestsTotal();
    const client = await caller.namespace('ns').component('c').endpoint('stream').client();
    await client.waitForInstances();
    const victim = client.generate<number>({ n: 40, delayMs: 5 }).collect();

    const stranger = await as('stranger', 'stranger-secret', '_INBOX_stranger');
    const publishes = ['dynamo.ns.c.stream', '_DYN.CANCEL.ns.c.stream', `_DYN.CTL.ns.c.stream.${service.instanceId}`, '$SRV.INFO.dynamo', '_INBOX_caller.x'];
    for (const subject of publishes) stranger.nc.publish(subject, '{"n":1}', { reply: '_INBOX_stranger.r' });
    for (const subject of ['dynamo.>', '_DYN.>', '_INBOX_caller.>', '$SRV.>']) stranger.nc.subscribe(subject, { callback: () => {} });

    const other = await as('other_caller', 'other-secret', '_INBOX_other');
    for (const subject of ['dynamo.>', '_INBOX_caller.>', '_DYN.>']) other.nc.subscribe(subject, { callback: () => {} });
    other.nc.publish('_INBOX_caller.x', '"PWNED"');
    // allowed by NATS, and useless without the requests' secrets
    for (let k = 0; k < 20; k++) other.nc.publish('_DYN.CANCEL.ns.c.stream', randomUUID());

    const svc = await as('dynamo_service', 'service-secret');
    svc.nc.publish('_INBOX_caller.x', '"PWNED"');
    svc.nc.publish('dynamo.ns.c.stream', '{"n":1}');

    const expected = {
      stranger: [...publishes.map((s) => `publish ${s}`), 'subscription dynamo.>', 'subscription _DYN.>', 'subscription _INBOX_caller.>', 'subscription $SRV.>'],
      other: ['subscription dynamo.>', 'subscription _INBOX_caller.>', 'subscription _DYN.>', 'publish _INBOX_caller.x'],
      svc: ['publish _INBOX_caller.x', 'publish dynamo.ns.c.stream'],
    };
    const sorted = (list: string[]): string[] => [...list].sort();
    await eventually(
      async () => (stranger.refused.length === expected.stranger.length && other.refused.length === expected.other.length && svc.refused.length === expected.svc.length ? true : undefined),
      5000,
      'every refusal reported by the server',
    );
    assert.deepEqual(sorted(stranger.refused), sorted(expected.stranger));
    assert.deepEqual(sorted(other.refused), sorted(expected.other));
    assert.deepEqual(sorted(svc.refused), sorted(expected.svc));

    assert.deepEqual(await victim, Array.from({ length: 40 }, (_, i) => i));
    // nothing the stranger or the service user published reached the endpoint
    assert.equal(await requestsTotal(), before + 1);

    // A caller may name any reply subject for its own requests (NATS cannot restrict that): aimed
    // under the victim's inbox prefix, it is served to a subject no client of the victim reads —
    // the client's inbox token is random, not derivable from its request ids.
    const aimed = rawRequest(ep.subject, '{"n":3}', { inbox: '_INBOX_caller' });
    other.nc.publish(ep.subject, aimed.data, { reply: aimed.reply, headers: aimed.headers });
    await eventually(async () => {
      const v = await viewOf(service, 'stream');
      return v.requests === before + 2 && v.inflight === 0 ? true : undefined;
    }, 5000, 'aimed request served');
    assert.deepEqual(client.stats(), { rejectedMessages: 0, unmatchedMessages: 0 });
    await client.close();
  });
});
