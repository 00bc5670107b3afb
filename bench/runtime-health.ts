// What the runtime health metrics cost a scrape: one /metrics exposition (runtime.metricsText(),
// the same text the status server sends) of a runtime with 1 and with 100 serving endpoints,
// runtime health on and off, in interleaved rounds; per scrape: its time and the longest the
// event loop was held while it ran.
//
//   node --import tsx bench/runtime-health.ts [--rounds 15]
import { DistributedRuntime } from '../src/index.ts';
import { printTable, stats, timed, type Row } from './common.ts';

const ROUNDS = Number(process.argv[process.argv.indexOf('--rounds') + 1] ?? '') || 15;
const SCRAPES_PER_ROUND = 20;

async function runtimeWith(endpoints: number, runtimeMetrics: boolean): Promise<DistributedRuntime> {
  const rt = await DistributedRuntime.create({ env: {}, nats: false, handleSignals: false, logSink: () => {}, runtimeMetrics });
  const component = rt.namespace('bench').component('worker');
  for (let i = 0; i < endpoints; i++) component.endpoint(`ep${i}`).setServing(true);
  return rt;
}

const variants: Array<{ name: string; endpoints: number; runtimeMetrics: boolean }> = [
  { name: '1 endpoint, runtime health off', endpoints: 1, runtimeMetrics: false },
  { name: '1 endpoint, runtime health on', endpoints: 1, runtimeMetrics: true },
  { name: '100 endpoints, runtime health off', endpoints: 100, runtimeMetrics: false },
  { name: '100 endpoints, runtime health on', endpoints: 100, runtimeMetrics: true },
];
const runtimes = await Promise.all(variants.map((v) => runtimeWith(v.endpoints, v.runtimeMetrics)));
const ms = variants.map(() => [] as number[]);
const blocked = variants.map(() => [] as number[]);
const bytes = variants.map(() => 0);
for (const [i, rt] of runtimes.entries()) bytes[i] = Buffer.byteLength(await rt.metricsText());
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, rt] of runtimes.entries()) {
    for (let n = 0; n < SCRAPES_PER_ROUND; n++) {
      const scrape = await timed(() => rt.metricsText());
      ms[i]!.push(scrape.ms * 1000);
      blocked[i]!.push(scrape.blockedMs);
    }
  }
}
const rows: Row[] = variants.map((v, i) => {
  const held = stats(blocked[i]!);
  return { name: v.name, stats: stats(ms[i]!), extra: `${bytes[i]} bytes; longest event-loop hold per scrape: median ${held.median.toFixed(2)} ms, max ${held.max.toFixed(2)} ms` };
});
printTable(`One /metrics exposition, ${ROUNDS} interleaved rounds of ${SCRAPES_PER_ROUND} scrapes`, 'µs', rows, '1 endpoint, runtime health off');
for (const rt of runtimes) await rt.shutdown();
