/**
 * The streaming and caller-side metrics on a real nats-server, read off real /metrics scrapes:
 * time to first response and inter-response gaps land in the buckets their handler's timers force,
 * cancellations are counted by reason and never as errors, and every caller-side error code driven
 * for real moves exactly its own `dynamo_client_errors_total` series.
 *
 * Timing assertions use lower bounds only — a timer never fires early, so a handler that waits
 * 300 ms before its first response cannot land below 0.25 s — and upper buckets far wider than any
 * load can stretch (30 s, 60 s): bucket placement cannot flake on a loaded machine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { CANCEL_REASONS, CLIENT_ERROR_TYPES, DistributedRuntime, DynamoError, ERROR_TYPES, ErrorCode, RemoteError, type ClientErrorType } from '../../src/index.ts';
import { sampleValue, type Family } from '../helpers/exposition.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { rawRequest } from '../helpers/raw-request.ts';
import { scrape, STATUS_SERVER_ENV } from '../helpers/scrape.ts';
import { promtoolCheck } from '../helpers/tools.ts';
import { waitFor, withDeadline } from '../helpers/wait.ts';

const MAX_PAYLOAD = 16 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const labelsOf = (endpoint: string) => ({ dynamo_namespace: 'ns', dynamo_component: 'c', dynamo_endpoint: endpoint });

/** One sample of `family` for `endpoint` (plus `extra` labels); `suffix` picks `_bucket`/`_sum`/`_count`. */
function value(families: Map<string, Family>, family: string, endpoint: string, extra: Record<string, string> = {}, suffix = ''): number {
  return sampleValue(families, family, `${family}${suffix}`, { ...labelsOf(endpoint), ...extra });
}

const serverErrors = (f: Map<string, Family>, endpoint: string) => ERROR_TYPES.map((error_type) => value(f, 'dynamo_component_errors_total', endpoint, { error_type }));
const cancellations = (f: Map<string, Family>, endpoint: string) => CANCEL_REASONS.map((reason) => value(f, 'dynamo_component_cancellation_total', endpoint, { reason }));
const clientErrors = (f: Map<string, Family>, endpoint: string) => CLIENT_ERROR_TYPES.map((error_type) => value(f, 'dynamo_client_errors_total', endpoint, { error_type }));
/** Client error series with `type` at `n` and every other at 0. */
const only = (type: ClientErrorType, n = 1) => CLIENT_ERROR_TYPES.map((t) => (t === type ? n : 0));

describe('streaming and caller-side metrics', () => {
  let nats: NatsServer;
  let server: DistributedRuntime;
  let caller: DistributedRuntime;
  let raw: NatsConnection;
  let release: () => void = () => {};

  before(async () => {
    nats = await startNatsServer({ maxPayload: MAX_PAYLOAD });
    const env = { NATS_SERVER: nats.url, ...STATUS_SERVER_ENV };
    server = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {}, streamStallTimeoutMs: 500 });
    caller = await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {} });
    raw = await connect({ servers: nats.url });
    const c = server.namespace('ns').component('c');
    // 300 ms before the first response, 120 ms between the three: TTFR ≥ 0.3 s, two gaps ≥ 0.12 s.
    await c.endpoint('timed', { durationBuckets: [0.25, 60], interResponseBuckets: [0.1, 30] }).serve(async function* () {
      await sleep(300);
      yield 'a';
      await sleep(120);
      yield 'b';
      await sleep(120);
      yield 'c';
    });
    // Three responses in one turn of the event loop, 150 ms, two more in one turn.
    await c.endpoint('bursts', { interResponseBuckets: [0, 0.1, 30] }).serve(async function* () {
      yield 1;
      yield 2;
      yield 3;
      await sleep(150);
      yield 4;
      yield 5;
    });
    // Three responses, then a wait only a cancellation ends: the caller leaves mid-stream.
    await c.endpoint('ten').serve(async function* (_req: unknown, ctx) {
      for (let i = 0; i < 10; i++) {
        if (i === 3) await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        yield i;
      }
    });
    await c.endpoint('five').serve(async function* () {
      for (let i = 0; i < 5; i++) yield i;
    });
    await c.endpoint('single').serve(() => 'one');
    await c.endpoint('failing').serve(async function* () {
      yield 'one';
      throw new Error('handler bug');
    });
    // Never answers until its caller cancels: a timeout that depends on no speed at all.
    await c.endpoint('silent').serve(async function* (_req: unknown, ctx) {
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      yield 'never';
    });
    await c.endpoint('gated').serve(
      async function* () {
        yield 'started';
        await new Promise<void>((resolve) => (release = resolve));
      },
      { maxConcurrency: 1 },
    );
  });

  after(async () => {
    release();
    await raw.close();
    await caller.shutdown();
    await server.shutdown();
    await nats.stop();
  });

  const clientOf = async (endpoint: string, options = {}) => {
    const client = await caller.namespace('ns').component('c').endpoint(endpoint).client(options);
    await client.waitForInstances();
    return client;
  };
  const serverMetrics = () => scrape(server.systemPort!);
  const callerMetrics = () => scrape(caller.systemPort!);

  it('every new family is there at 0 from the moment an endpoint serves', async () => {
    const f = await serverMetrics();
    assert.equal(value(f, 'dynamo_component_responses_total', 'five'), 0);
    assert.deepEqual(cancellations(f, 'five'), [0, 0, 0]);
    assert.equal(value(f, 'dynamo_component_time_to_first_response_seconds', 'five', {}, '_count'), 0);
    assert.equal(value(f, 'dynamo_component_inter_response_seconds', 'five', {}, '_count'), 0);
    // No client of `five` was made in the caller runtime yet: no caller series for it.
    assert.equal((await callerMetrics()).get('dynamo_client_requests_total')?.samples.some((s) => s.labels['dynamo_endpoint'] === 'five') ?? false, false);
  });

  it('time to first response and gaps land in the buckets the handler timers force, server and caller side', async () => {
    const client = await clientOf('timed');
    assert.deepEqual(await client.generate('go').collect(), ['a', 'b', 'c']);
    const f = await waitFor(serverMetrics, { what: 'the timed request over', until: (m) => value(m, 'dynamo_component_inflight_requests', 'timed') === 0 });
    const ttfr = 'dynamo_component_time_to_first_response_seconds';
    const gap = 'dynamo_component_inter_response_seconds';
    assert.equal(value(f, ttfr, 'timed', {}, '_count'), 1);
    assert.equal(value(f, ttfr, 'timed', { le: '0.25' }, '_bucket'), 0);
    assert.equal(value(f, ttfr, 'timed', { le: '60' }, '_bucket'), 1);
    // Sum tolerance: 5 ms below (timer rounding), 10 s above (a loaded machine stretches time, never shrinks it).
    const firstSum = value(f, ttfr, 'timed', {}, '_sum');
    assert.ok(firstSum >= 0.295 && firstSum < 10.3, `ttfr sum ${firstSum}`);
    assert.equal(value(f, gap, 'timed', {}, '_count'), 2);
    assert.equal(value(f, gap, 'timed', { le: '0.1' }, '_bucket'), 0);
    assert.equal(value(f, gap, 'timed', { le: '30' }, '_bucket'), 2);
    const gapSum = value(f, gap, 'timed', {}, '_sum');
    assert.ok(gapSum >= 0.235 && gapSum < 10.24, `gap sum ${gapSum}`);
    assert.equal(value(f, 'dynamo_component_responses_total', 'timed'), 3);
    assert.equal(value(f, 'dynamo_component_request_duration_seconds', 'timed', { le: '0.25' }, '_bucket'), 0);

    const cf = await callerMetrics();
    assert.equal(value(cf, 'dynamo_client_requests_total', 'timed'), 1);
    assert.equal(value(cf, 'dynamo_client_inflight_requests', 'timed'), 0);
    // The caller's view contains the server's: its first response is no earlier, its stream no shorter.
    assert.equal(value(cf, 'dynamo_client_time_to_first_response_seconds', 'timed', {}, '_count'), 1);
    assert.equal(value(cf, 'dynamo_client_time_to_first_response_seconds', 'timed', { le: '0.25' }, '_bucket'), 0);
    assert.equal(value(cf, 'dynamo_client_request_duration_seconds', 'timed', {}, '_count'), 1);
    assert.equal(value(cf, 'dynamo_client_request_duration_seconds', 'timed', { le: '0.25' }, '_bucket'), 0);
    assert.ok(value(cf, 'dynamo_client_request_duration_seconds', 'timed', {}, '_sum') >= 0.535);
    // Bytes: what one side sent is what the other received, to the byte.
    assert.equal(value(cf, 'dynamo_client_request_bytes_total', 'timed'), value(f, 'dynamo_component_request_bytes_total', 'timed'));
    assert.equal(value(cf, 'dynamo_client_request_bytes_total', 'timed'), 4); // "go"
    assert.equal(value(cf, 'dynamo_client_response_bytes_total', 'timed'), value(f, 'dynamo_component_response_bytes_total', 'timed'));
    assert.deepEqual(clientErrors(cf, 'timed'), only('timeout', 0));
    await client.close();
  });

  it('responses that leave in one socket write are 0 apart; the gap to the first of the next turn is the wait', async () => {
    const client = await clientOf('bursts');
    assert.deepEqual(await client.generate('go').collect(), [1, 2, 3, 4, 5]);
    const f = await waitFor(serverMetrics, { what: 'the bursts request over', until: (m) => value(m, 'dynamo_component_inflight_requests', 'bursts') === 0 });
    const gap = 'dynamo_component_inter_response_seconds';
    assert.equal(value(f, 'dynamo_component_responses_total', 'bursts'), 5);
    assert.equal(value(f, gap, 'bursts', {}, '_count'), 4);
    // 2 and 3 share 1's time, 5 shares 4's: three gaps of exactly 0, one of the 150 ms between the turns.
    assert.equal(value(f, gap, 'bursts', { le: '0' }, '_bucket'), 3);
    assert.equal(value(f, gap, 'bursts', { le: '0.1' }, '_bucket'), 3);
    assert.equal(value(f, gap, 'bursts', { le: '30' }, '_bucket'), 4);
    const gapSum = value(f, gap, 'bursts', {}, '_sum');
    assert.ok(gapSum >= 0.145 && gapSum < 10.15, `gap sum ${gapSum}`);
    assert.equal(value(f, 'dynamo_component_time_to_first_response_seconds', 'bursts', {}, '_count'), 1);
    await client.close();
  });

  it('a single-value handler is one response: a first-response observation, no gap', async () => {
    const client = await clientOf('single');
    assert.deepEqual(await client.generate(null).collect(), ['one']);
    const f = await waitFor(serverMetrics, { what: 'the request over', until: (m) => value(m, 'dynamo_component_inflight_requests', 'single') === 0 });
    assert.deepEqual(
      [value(f, 'dynamo_component_responses_total', 'single'), value(f, 'dynamo_component_time_to_first_response_seconds', 'single', {}, '_count'), value(f, 'dynamo_component_inter_response_seconds', 'single', {}, '_count')],
      [1, 1, 0],
    );
    await client.close();
  });

  it('a caller breaking out after 3 of 10: cancellation{reason="client"} +1, no error series moves on either side', async () => {
    const client = await clientOf('ten');
    const got: number[] = [];
    for await (const v of client.generate<number>(null)) {
      got.push(v);
      if (got.length === 3) break;
    }
    assert.deepEqual(got, [0, 1, 2]);
    const f = await waitFor(serverMetrics, { what: 'the cancelled stream ended', until: (m) => value(m, 'dynamo_component_inflight_requests', 'ten') === 0 });
    assert.deepEqual(cancellations(f, 'ten'), [1, 0, 0]);
    assert.deepEqual(serverErrors(f, 'ten'), [0, 0, 0, 0, 0, 0]);
    assert.equal(value(f, 'dynamo_component_responses_total', 'ten'), 3);
    const cf = await callerMetrics();
    assert.deepEqual(clientErrors(cf, 'ten'), only('timeout', 0), 'leaving a stream early is not a caller error');
    assert.equal(value(cf, 'dynamo_client_inflight_requests', 'ten'), 0);
    assert.equal(value(cf, 'dynamo_client_request_duration_seconds', 'ten', {}, '_count'), 1);
    await client.close();
  });

  it('a stalled reader (window 1, never acknowledges): cancellation{reason="stall"} +1, no error', async () => {
    const req = rawRequest('dynamo.ns.c.five', '"x"', { window: 1 });
    const kinds: string[] = [];
    const sub = raw.subscribe(req.reply, { callback: (_err: unknown, msg: Msg) => void kinds.push(msg.headers?.get('Dynamo-Error-Type') || msg.headers?.get('Dynamo-Kind') || '?') });
    await raw.flush();
    raw.publish('dynamo.ns.c.five', req.data, { headers: req.headers, reply: req.reply });
    await waitFor(() => kinds.includes('cancelled'), { what: 'the stream abandoned after the stall timeout' });
    sub.unsubscribe();
    assert.deepEqual(kinds, ['data', 'cancelled']);
    const f = await waitFor(serverMetrics, { what: 'the abandoned stream ended', until: (m) => value(m, 'dynamo_component_inflight_requests', 'five') === 0 });
    assert.deepEqual(cancellations(f, 'five'), [0, 1, 0]);
    assert.deepEqual(serverErrors(f, 'five'), [0, 0, 0, 0, 0, 0]);
    assert.equal(value(f, 'dynamo_component_responses_total', 'five'), 1);
  });

  describe('each caller-side error code, driven for real, moves exactly its own series', () => {
    it('no_responders: nothing serves the endpoint', async () => {
      const client = await caller.namespace('ns').component('c').endpoint('nobody').client();
      await assert.rejects(client.generate('x').collect(), { code: ErrorCode.NoResponders });
      const cf = await callerMetrics();
      assert.deepEqual(clientErrors(cf, 'nobody'), only('no_responders'));
      assert.equal(value(cf, 'dynamo_client_requests_total', 'nobody'), 1);
      assert.equal(value(cf, 'dynamo_client_inflight_requests', 'nobody'), 0);
      assert.equal(value(cf, 'dynamo_client_time_to_first_response_seconds', 'nobody', {}, '_count'), 0);
      await client.close();
    });

    it('no_instances: waitForInstances gives up (not a request)', async () => {
      const client = await caller.namespace('ns').component('c').endpoint('nobody_either').client({ discoveryWindowMs: 50 });
      await assert.rejects(client.waitForInstances({ timeoutMs: 100 }), { code: ErrorCode.NoInstances });
      const cf = await callerMetrics();
      assert.deepEqual(clientErrors(cf, 'nobody_either'), only('no_instances'));
      assert.equal(value(cf, 'dynamo_client_requests_total', 'nobody_either'), 0);
      await client.close();
    });

    it('timeout: no response within timeoutMs', async () => {
      const client = await clientOf('silent', { timeoutMs: 300 });
      await assert.rejects(client.generate('x').next(), { code: ErrorCode.Timeout });
      assert.deepEqual(clientErrors(await callerMetrics(), 'silent'), only('timeout'));
      assert.equal(value(await callerMetrics(), 'dynamo_client_time_to_first_response_seconds', 'silent', {}, '_count'), 0);
      // The timed-out caller cancels: the server counts a client cancellation, not an error.
      const f = await waitFor(serverMetrics, { what: 'the timed-out request cancelled', until: (m) => value(m, 'dynamo_component_inflight_requests', 'silent') === 0 });
      assert.deepEqual(cancellations(f, 'silent'), [1, 0, 0]);
      assert.deepEqual(serverErrors(f, 'silent'), [0, 0, 0, 0, 0, 0]);
      await client.close();
    });

    it('remote: the handler fails', async () => {
      const client = await clientOf('failing');
      await assert.rejects(client.generate('x').collect(), (e: unknown) => e instanceof RemoteError && e.errorType === 'generate');
      const cf = await callerMetrics();
      assert.deepEqual(clientErrors(cf, 'failing'), only('remote'));
      assert.equal(value(cf, 'dynamo_client_time_to_first_response_seconds', 'failing', {}, '_count'), 1);
      await client.close();
    });

    it('stream_cut_short: the client is closed while its stream is open', async () => {
      const client = await clientOf('gated');
      const stream = client.generate('x');
      assert.deepEqual(await stream.next(), { value: 'started', done: false });
      await client.close();
      await assert.rejects(stream.next(), { code: ErrorCode.StreamCutShort });
      await waitFor(async () => value(await serverMetrics(), 'dynamo_component_inflight_requests', 'gated') === 0, { what: 'the cut stream cancelled on the server' });
      assert.deepEqual(clientErrors(await callerMetrics(), 'gated'), only('stream_cut_short'));
    });

    it('cancelled: the caller aborts its signal', async () => {
      const client = await clientOf('ten');
      const before = clientErrors(await callerMetrics(), 'ten');
      const controller = new AbortController();
      const stream = client.generate<number>(null, { signal: controller.signal });
      for (const expected of [0, 1, 2]) assert.equal((await stream.next()).value, expected);
      controller.abort();
      await assert.rejects(stream.next(), { code: ErrorCode.Cancelled });
      const after = clientErrors(await callerMetrics(), 'ten');
      assert.deepEqual(after.map((n, i) => n - before[i]!), only('cancelled'));
      await client.close();
    });

    it('overloaded: the only instance serves its limit', async () => {
      const client = await clientOf('gated');
      const first = client.generate('x');
      assert.deepEqual(await first.next(), { value: 'started', done: false });
      const before = clientErrors(await callerMetrics(), 'gated');
      await assert.rejects(client.generate('y').collect(), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.Overloaded);
      release();
      assert.deepEqual(await withDeadline(first.collect(), 'the first request after release'), []);
      const after = clientErrors(await callerMetrics(), 'gated');
      assert.deepEqual(after.map((n, i) => n - before[i]!), only('overloaded'));
      await client.close();
    });

    it('request_too_large: over max_payload, nothing sent', async () => {
      const client = await clientOf('single');
      const before = await callerMetrics();
      assert.throws(() => client.generate('x'.repeat(MAX_PAYLOAD)), { code: ErrorCode.RequestTooLarge });
      const after = await callerMetrics();
      assert.deepEqual(clientErrors(after, 'single').map((n, i) => n - clientErrors(before, 'single')[i]!), only('request_too_large'));
      assert.equal(value(after, 'dynamo_client_requests_total', 'single') - value(before, 'dynamo_client_requests_total', 'single'), 1);
      assert.equal(value(after, 'dynamo_client_request_bytes_total', 'single'), value(before, 'dynamo_client_request_bytes_total', 'single'), 'nothing was sent');
      assert.equal(value(after, 'dynamo_client_inflight_requests', 'single'), 0);
      await client.close();
    });
  });

  it('both /metrics, with every new family, server and caller side, pass promtool check metrics', async () => {
    for (const rt of [server, caller]) {
      const res = await fetch(`http://127.0.0.1:${rt.systemPort!}/metrics`);
      const text = await res.text();
      assert.equal(res.status, 200);
      // The server runtime serves (endpoint families), the caller only calls (client families).
      assert.ok(text.includes(rt === server ? '# TYPE dynamo_component_cancellation_total counter' : '# TYPE dynamo_client_errors_total counter'));
      const check = promtoolCheck(text);
      assert.equal(check.status, 0, check.output);
    }
    const callerText = await (await fetch(`http://127.0.0.1:${caller.systemPort!}/metrics`)).text();
    for (const family of ['dynamo_client_requests_total', 'dynamo_client_request_duration_seconds', 'dynamo_client_time_to_first_response_seconds', 'dynamo_client_inflight_requests', 'dynamo_client_request_bytes_total', 'dynamo_client_response_bytes_total', 'dynamo_client_errors_total']) {
      assert.equal(callerText.split('\n').filter((l) => l.startsWith(`# TYPE ${family} `)).length, 1, family);
    }
  });
});
