import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistributedRuntime, DynamoError, ErrorCode, RemoteError, type RequestContext } from '../../src/index.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { scrapeEndpoint, STATUS_SERVER_ENV } from '../helpers/scrape.ts';
import { waitFor } from '../helpers/wait.ts';

type Mode = 'ok' | 'throw_sync' | 'reject' | 'throw_mid' | 'never_yields' | 'forever' | 'unencodable';

describe('handler faults', () => {
  it('are each counted right, in-flight returns to 0, and other requests are unaffected', async () => {
    const nats = await startNatsServer();
    const opts = { env: { NATS_SERVER: nats.url }, handleSignals: false as const, logSink: () => {} };
    const server = await DistributedRuntime.create({ ...opts, env: { ...opts.env, ...STATUS_SERVER_ENV } });
    const clientRt = await DistributedRuntime.create(opts);
    const aborted: Record<string, number> = { never_yields: 0, forever: 0 };
    try {
      const ep = server.namespace('ns').component('comp').endpoint('faults');
      await ep.serve((req: { mode: Mode; n: number }, ctx: RequestContext) => {
        ctx.signal.addEventListener('abort', () => {
          if (req.mode in aborted) aborted[req.mode]!++;
        });
        switch (req.mode) {
          case 'throw_sync':
            throw new Error('sync throw');
          case 'reject':
            return Promise.reject(new Error('rejected'));
          default:
            return (async function* () {
              if (req.mode === 'throw_mid') {
                yield 1;
                yield 2;
                throw new Error('mid-stream');
              }
              if (req.mode === 'never_yields') await new Promise(() => {});
              if (req.mode === 'forever') for (let i = 0; ; i++) yield i;
              if (req.mode === 'unencodable') {
                yield 'fine';
                yield 10n;
              }
              for (let i = 0; i < req.n; i++) yield i;
            })();
        }
      });
      const client = await clientRt.namespace('ns').component('comp').endpoint('faults').client();
      await client.waitForInstances();
      const ROUNDS = 20;
      const outcome = async (mode: Mode): Promise<string> => {
        try {
          if (mode === 'never_yields') {
            await client.generate({ mode, n: 0 }, { timeoutMs: 300 }).collect();
          } else if (mode === 'forever') {
            let seen = 0;
            for await (const _ of client.generate({ mode, n: 0 })) if (++seen === 50) break;
            return 'broke out';
          } else {
            const got = await client.generate<number>({ mode, n: 5 }).collect();
            return got.join(',') === '0,1,2,3,4' ? 'ok' : `bad ${got}`;
          }
          return 'no error';
        } catch (e) {
          if (e instanceof RemoteError) return `remote ${e.errorType}`;
          if (e instanceof DynamoError) return e.code;
          return String(e);
        }
      };
      const modes: Mode[] = ['throw_sync', 'reject', 'throw_mid', 'never_yields', 'forever', 'unencodable'];
      const jobs: Array<Promise<[Mode, string]>> = [];
      for (let round = 0; round < ROUNDS; round++) {
        for (const m of modes) jobs.push(outcome(m).then((o) => [m, o]));
        for (let k = 0; k < 10; k++) jobs.push(outcome('ok').then((o) => ['ok', o]));
      }
      const results = await Promise.all(jobs);
      const tally: Record<string, Record<string, number>> = {};
      for (const [m, o] of results) {
        tally[m] ??= {};
        tally[m]![o] = (tally[m]![o] ?? 0) + 1;
      }
      assert.deepEqual(tally, {
        ok: { ok: ROUNDS * 10 },
        throw_sync: { 'remote generate': ROUNDS },
        reject: { 'remote generate': ROUNDS },
        throw_mid: { 'remote generate': ROUNDS },
        never_yields: { [ErrorCode.Timeout]: ROUNDS },
        forever: { 'broke out': ROUNDS },
        unencodable: { 'remote publish_response': ROUNDS },
      });
      // Read back through /metrics, as a user would: every request ended, each fault under its type.
      const L = { dynamo_endpoint: 'faults' };
      const metrics = await waitFor(() => scrapeEndpoint(server.systemPort!, L), { what: 'in-flight back to 0 on /metrics', until: (v) => v.inflight === 0 });
      assert.deepEqual(aborted, { never_yields: ROUNDS, forever: ROUNDS });
      assert.deepEqual(metrics.errors, {
        deserialization: 0,
        invalid_message: 0,
        response_stream: 0,
        generate: 3 * ROUNDS,
        publish_response: ROUNDS,
        publish_final: 0,
      });
      assert.equal(metrics.requests, ROUNDS * 16);
      assert.equal(metrics.durationCount, ROUNDS * 16);
      await client.close();
    } finally {
      await clientRt.shutdown();
      await server.shutdown();
      await nats.stop();
    }
  });
});
