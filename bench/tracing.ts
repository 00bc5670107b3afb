/**
 * What tracing adds per request, in-process, ns per request, interleaved rounds in one run:
 * - the automatic metrics alone (EndpointRecorder), the baseline;
 * - the same with a sampled span's exemplars kept in the duration and time-to-first-response
 *   histograms (what the metrics pay for tracing: the budget is ≤ 20 ns);
 * - the request plane's tracing hooks with no SDK registered (extract, span, context, inject:
 *   what every user without OpenTelemetry tracing pays);
 * - one sampled SERVER span and one CLIENT span through the SDK (no exporter), with the metrics:
 *   the span cost the exemplar sits next to.
 *
 * Run: npm run bench:tracing
 */
import { MsgHdrsImpl } from '@nats-io/transport-node';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { trace } from '@opentelemetry/api';
import { createLogger } from '../src/logging/logger.ts';
import { EndpointRecorder, UNBATCHED_CLOCK } from '../src/metrics/endpoint-recorder.ts';
import { BucketExemplars } from '../src/metrics/exemplars.ts';
import { DEFAULT_DURATION_BUCKETS } from '../src/metrics/names.ts';
import { clientTracer, serverTracer, type EndpointPath } from '../src/tracing/endpoint-tracing.ts';
import { HeaderBlock } from '../src/transport/header-block.ts';
import { OK } from '../src/transport/request-tracing.ts';
import { printTable, stats, type Row } from './common.ts';

const N = Number(process.env['BENCH_N'] ?? 300_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 9);
const attrs = { dynamo_namespace: 'example_namespace', dynamo_component: 'example_component', dynamo_endpoint: 'example_endpoint' };
const path: EndpointPath = { namespace: 'example_namespace', component: 'example_component', endpoint: 'example_endpoint', subject: 'dynamo.example_namespace.example_component.example_endpoint' };
const logger = createLogger('warn', () => {});
const sampled = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' };

type Variant = { name: string; run: (n: number) => void };

const recorder = (): EndpointRecorder => new EndpointRecorder(attrs, DEFAULT_DURATION_BUCKETS, logger);

function metricsOnly(): Variant {
  const r = recorder();
  return {
    name: 'metrics only',
    run(n) {
      for (let i = 0; i < n; i++) {
        const mark = r.requestStarted(100);
        const end = r.dataPublished(mark, true, UNBATCHED_CLOCK);
        r.responsePublished(200);
        r.requestEnded(mark, undefined, undefined, end);
      }
    },
  };
}

function metricsWithExemplar(): Variant {
  const r = recorder();
  return {
    name: 'metrics + exemplars (sampled)',
    run(n) {
      for (let i = 0; i < n; i++) {
        const mark = r.requestStarted(100);
        const end = r.dataPublished(mark, true, UNBATCHED_CLOCK, sampled);
        r.responsePublished(200);
        r.requestEnded(mark, sampled, undefined, end);
      }
    },
  };
}

/** Both sides' hooks, as the request plane calls them, with the API's global (no-op) tracer and propagator. */
function hooks(name: string, provider: Parameters<typeof serverTracer>[0]): Variant {
  const r = recorder();
  const server = serverTracer(provider, path, 'instance-1');
  const client = clientTracer(provider, path);
  return {
    name,
    run(n) {
      for (let i = 0; i < n; i++) {
        const h = new MsgHdrsImpl();
        const callerSide = client.start(h, 'req', undefined);
        const mark = r.requestStarted(100);
        // what the instance reads off the wire (its protocol headers are read anyway, traced or not)
        const serverSide = server.start(HeaderBlock.parse(h.encode()), 'req');
        const end = serverSide.run(() => {
          const t = r.dataPublished(mark, true, UNBATCHED_CLOCK, serverSide.sampled);
          serverSide.firstResponse();
          r.responsePublished(200);
          return t;
        });
        r.requestEnded(mark, serverSide.sampled, undefined, end);
        serverSide.end(OK);
        callerSide.firstResponse();
        callerSide.end(OK);
      }
    },
  };
}

/** The headers every request has anyway (made by the caller, read by the instance), for the no-SDK row to be read against. */
function headersOnly(): Variant {
  const r = recorder();
  return {
    name: 'metrics + headers made and read (no tracing)',
    run(n) {
      for (let i = 0; i < n; i++) {
        const h = new MsgHdrsImpl();
        if (HeaderBlock.parse(h.encode()) === undefined) console.log(h);
        const mark = r.requestStarted(100);
        const end = r.dataPublished(mark, true, UNBATCHED_CLOCK);
        r.responsePublished(200);
        r.requestEnded(mark, undefined, undefined, end);
      }
    },
  };
}

/** The exemplar's own work, without the clock reads around it: what the recorder adds when sampled. */
function offerAlone(): Variant {
  const e = new BucketExemplars(DEFAULT_DURATION_BUCKETS.length + 1);
  return {
    name: 'exemplar offer alone',
    run(n) {
      for (let i = 0; i < n; i++) e.offer(i & 7, i, i, sampled);
    },
  };
}

const variants = [
  metricsOnly(),
  metricsWithExemplar(),
  headersOnly(),
  hooks('+ tracing hooks, no SDK (global no-op)', trace.getTracerProvider()),
  hooks('+ SDK spans, sampled (client + server)', new BasicTracerProvider()),
  offerAlone(),
];
for (const v of variants) v.run(Math.min(N, 50_000)); // warm-up
const samples = new Map<Variant, number[]>(variants.map((v) => [v, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const v of variants) {
    const t0 = process.hrtime.bigint();
    v.run(N);
    samples.get(v)!.push(Number(process.hrtime.bigint() - t0) / N);
  }
}
const rows: Row[] = variants.map((v) => ({ name: v.name, stats: stats(samples.get(v)!) }));
printTable(`Tracing per request, ${N.toLocaleString()} requests × ${ROUNDS} interleaved rounds`, 'ns/req', rows, 'metrics only');
// Load moves whole rounds up and down: the difference within each round (variants back to back)
// is steadier than the difference of medians, so that is what the summary states.
const added = (a: Variant, b: Variant): number => stats(samples.get(a)!.map((x, i) => x - samples.get(b)![i]!)).median;
const [only, exemplar, headers, noSdk, sdk, offer] = variants as [Variant, Variant, Variant, Variant, Variant, Variant];
console.log(`\nmedian of per-round differences: exemplar adds ${added(exemplar, only).toFixed(1)} ns/req (budget ≤ 20; the offer alone ${stats(samples.get(offer)!).median.toFixed(1)} ns) · tracing hooks with no SDK add ${added(noSdk, headers).toFixed(0)} ns/req (both sides) · sampled SDK spans add ${added(sdk, headers).toFixed(0)} ns/req (both sides)`);
