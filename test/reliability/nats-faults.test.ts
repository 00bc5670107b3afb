import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistributedRuntime, DynamoError, ErrorCode } from '../../src/index.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { scrape, endpointView, scrapeEndpoint, STATUS_SERVER_ENV } from '../helpers/scrape.ts';
import { waitFor, withDeadline } from '../helpers/wait.ts';

const TYPED_OUTAGE_ERRORS: ReadonlySet<string> = new Set([ErrorCode.StreamCutShort, ErrorCode.Timeout, ErrorCode.NoResponders]);
const WORKERS = 16;
/** Successful requests awaited before the outage, and again (sent after the restart) after it. */
const OK_BEFORE = 100;
const OK_AFTER = 100;

type Phase = 'before' | 'outage' | 'after';
interface Outcome {
  phase: Phase;
  result: string;
}

// The outage is driven by conditions, not by the clock: kill NATS once 100 requests have
// succeeded, restart it once /health says 503 and the outage has cost a request, stop once 100
// requests sent after the restart have succeeded. What is asserted is accounting, exact where
// it is known: every request sent got exactly one outcome, each typed; the server counted exactly
// the requests its handler ran, all ended; counters never went back.
describe('NATS killed and restarted under sustained load', () => {
  it('reconnects by itself, /health goes 503 then 200, serving resumes, counters never go back, clients get typed errors not hangs', async () => {
    const nats = await startNatsServer();
    const server = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url, ...STATUS_SERVER_ENV }, handleSignals: false, logSink: () => {} });
    const clientRt = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
    const port = server.systemPort!;
    const base = `http://127.0.0.1:${port}`;
    const L = { dynamo_endpoint: 'work' };
    let handled = 0;
    await server
      .namespace('ns')
      .component('c')
      .endpoint('work')
      .serve(async function* (req: number) {
        handled++;
        for (let i = 0; i < 3; i++) {
          await new Promise((r) => setTimeout(r, 5));
          yield req + i;
        }
      });
    const client = await clientRt.namespace('ns').component('c').endpoint('work').client({ timeoutMs: 1500 });
    await client.waitForInstances();

    let phase: Phase = 'before';
    let running = true;
    let sent = 0;
    const outcomes: Outcome[] = [];
    const count = (p: Phase | undefined, result: string | undefined) => outcomes.filter((o) => (p === undefined || o.phase === p) && (result === undefined || o.result === result)).length;
    const worker = async (w: number): Promise<void> => {
      for (let n = 0; running; n++) {
        const sentIn = phase;
        sent++;
        let result: string;
        try {
          const got = await client.generate<number>(w * 1_000_000 + n * 10).collect();
          result = got.length === 3 && got[2] === w * 1_000_000 + n * 10 + 2 ? 'ok' : `bad ${JSON.stringify(got)}`;
        } catch (e) {
          result = e instanceof DynamoError ? e.code : `untyped ${String(e)}`;
          await new Promise((r) => setTimeout(r, 50)); // back off while NATS is away
        }
        outcomes.push({ phase: sentIn, result });
      }
    };
    const counts: number[] = [];
    const health = new Set<number>();
    const scrapeProblems: string[] = [];
    const scraper = (async () => {
      while (running) {
        try {
          counts.push(endpointView(await scrape(port), L).requests);
          health.add((await fetch(`${base}/health`)).status);
        } catch (e) {
          scrapeProblems.push(String(e));
        }
        await new Promise((r) => setTimeout(r, 50)); // a scrape interval, not a wait for an outcome
      }
    })();
    const healthStatus = async () => (await fetch(`${base}/health`)).status;

    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
    try {
      await waitFor(() => count('before', 'ok'), { what: `${OK_BEFORE} successful requests before the outage`, until: (n) => n >= OK_BEFORE, timeoutMs: 30_000 });
      phase = 'outage';
      await nats.kill();
      await waitFor(healthStatus, { what: '/health 503 during the outage', until: (s) => s === 503 });
      await waitFor(() => outcomes.filter((o) => o.phase !== 'before' && o.result !== 'ok').length, { what: 'a request failed by the outage', until: (n) => n >= 1 });
      await nats.restart();
      phase = 'after';
      await waitFor(healthStatus, { what: '/health 200 again', until: (s) => s === 200, timeoutMs: 20_000 });
      await waitFor(() => count('after', 'ok'), { what: `${OK_AFTER} successful requests sent after the restart`, until: (n) => n >= OK_AFTER, timeoutMs: 30_000 });
    } finally {
      running = false;
      // Every request ends, one way or another: a hang fails here, by name.
      await withDeadline(Promise.all([...workers, scraper]), 'every request sent getting its outcome', 30_000);
    }

    try {
      const tally: Record<string, number> = {};
      for (const o of outcomes) tally[o.result] = (tally[o.result] ?? 0) + 1;
      assert.equal(outcomes.length, sent, 'every request sent got exactly one outcome');
      assert.deepEqual(Object.keys(tally).filter((k) => k !== 'ok' && !TYPED_OUTAGE_ERRORS.has(k)), [], `only typed outage errors: ${JSON.stringify(tally)}`);
      assert.deepEqual(scrapeProblems, []);
      for (let i = 1; i < counts.length; i++) assert.ok(counts[i]! >= counts[i - 1]!, `requests_total went back: ${counts[i - 1]} → ${counts[i]}`);
      assert.deepEqual([...health].sort(), [200, 503]);

      // The server's account, read from /metrics once everything has ended: exactly the requests
      // its handler ran, each ended once; an outage is not an endpoint error.
      const end = await waitFor(() => scrapeEndpoint(port, L), { what: 'in-flight back to 0', until: (v) => v.inflight === 0 });
      assert.equal(end.requests, handled);
      assert.equal(end.durationCount, handled);
      assert.ok(count(undefined, 'ok') <= handled, `${count(undefined, 'ok')} ok from ${handled} handled`);
      assert.deepEqual(end.errors, { deserialization: 0, invalid_message: 0, response_stream: 0, generate: 0, publish_response: 0, publish_final: 0 });
      console.log(`nats outage: ${outcomes.length} requests, ${JSON.stringify(tally)}, ${handled} handled, ${counts.length} scrapes`);
    } finally {
      await client.close();
      await clientRt.shutdown();
      await server.shutdown();
      await nats.stop();
    }
  });
});
