/**
 * Property: whatever sequence of public metric API calls a program makes — hostile names, labels
 * and values included — /metrics is a valid exposition (our strict parser; `promtool check
 * metrics` on a sample of cases) with one line per Prometheus series, and it equals, point for
 * point, what the runtime hands every other reader (`metricProducer`, the OTLP data model); a
 * sample of cases also goes over OTLP/HTTP to a real receiver, and one case in ten also registers
 * on an application's `MeterProvider`, whose reader must see the same. Seeded: a failure names
 * its seed.
 * `PROPERTY_CASES` and `PROPERTY_SEED` run more or other cases.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataPointType, MeterProvider, MetricReader, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { DistributedRuntime, DynamoError, EndpointMetric, type Endpoint, type Labels } from '../../src/index.ts';
import { parseExposition } from '../helpers/exposition.ts';
import { startHttpReceiver, type Receiver } from '../helpers/otlp-receiver.ts';
import { promtoolCheck } from '../helpers/tools.ts';
import { rng } from '../helpers/rng.ts';

const CASES = Number(process.env['PROPERTY_CASES'] ?? 2000);
const SEED = Number(process.env['PROPERTY_SEED'] ?? 20261122);
const PROMTOOL_EVERY = 25;
const OTLP_EVERY = 100;
/** Every so many cases the runtime also registers on an application's provider (`meterProvider`). */
const EXTERNAL_EVERY = 10;

class AppReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const NAMES = ['jobs', 'jobs_total', 'queue_depth', 'x', 'x_count', 'x_sum', 'x_bucket', 'x_created', 'x_info', 'latency_seconds', 'request_duration_seconds', 'request_duration_seconds_count', 'requests', 'inflight_requests', 'dynamo_component_x', 'bad-name', 'bad name', '', '9lives', 'é', 'a'.repeat(300)];
const LABEL_NAMES = ['kind', 'tier', 'user', 'le', 'error_type', 'dynamo_endpoint', '__x', 'bad-label', 'region', '0a'];
const LABEL_VALUES: unknown[] = ['a', 'b', '', ' ', 'x"y', 'back\\slash', 'new\nline', 'ünï©ødé', '\0', 'x\0', 0, 1, -0, 1.5, NaN, Infinity, -Infinity, true, false, undefined, null, { o: 1 }, ['arr']];
const VALUES = [0, 1, 2, 0.5, 1e-9, 1e21, 12345.678, -1, -0, NaN, Infinity, -Infinity, 2 ** 53];
const KINDS = ['createCounter', 'createUpDownCounter', 'createGauge', 'createHistogram', 'createObservableCounter', 'createObservableUpDownCounter', 'createObservableGauge'] as const;

type Recorder = (value: number, labels?: Labels) => void;

/** Runs one random program against a fresh runtime. */
function program(rt: DistributedRuntime, random: () => number): void {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const labelsOf = (): Labels | undefined => {
    if (random() < 0.2) return undefined;
    const out: Record<string, unknown> = {};
    for (let i = Math.floor(random() * 3); i > 0; i--) out[pick(LABEL_NAMES)] = pick(LABEL_VALUES);
    return out as Labels;
  };
  const endpoints: Endpoint[] = [];
  const endpointOptions: Record<string, { labels?: Record<string, string> }> = {};
  const nodes = () => {
    const ns = rt.namespace(pick(['ns', 'other']));
    const comp = ns.component(pick(['c', 'd']));
    const name = pick(['a', 'b', 'e-1']);
    // One set of constant labels per endpoint path (asking again with others is a tested error elsewhere).
    const path = `${ns.name}/${comp.name}/${name}`;
    const options = (endpointOptions[path] ??= random() < 0.3 ? { labels: { region: pick(['eu', '', 'us"1']) } } : {});
    const ep = comp.endpoint(name, options);
    endpoints.push(ep);
    return pick([ns, comp, ep, ep]);
  };
  const recorders: Recorder[] = [];
  const steps = 1 + Math.floor(random() * 12);
  for (let step = 0; step < steps; step++) {
    const roll = random();
    if (roll < 0.4 || recorders.length === 0) {
      const node = nodes();
      const kind = pick(KINDS);
      const labelNames = random() < 0.6 ? [...new Set(Array.from({ length: Math.floor(random() * 3) }, () => pick(LABEL_NAMES)))] : undefined;
      const options = {
        name: pick(NAMES),
        description: pick(['help', 'help with "quotes" and \\ and\nnewline', '']),
        ...(random() < 0.2 ? { unit: pick(['By', 's', '']) } : {}),
        ...(labelNames === undefined ? {} : { labelNames }),
        ...(random() < 0.3 ? { cardinalityLimit: 1 + Math.floor(random() * 4) } : {}),
        ...(kind === 'createHistogram' && random() < 0.5 ? { buckets: pick([[1], [0.1, 1, 10], [1, 1], [], [NaN]]) } : {}),
      };
      const observations = Array.from({ length: Math.floor(random() * 3) }, () => [pick(VALUES), labelsOf()] as const);
      const failing = random() < 0.15;
      try {
        if (kind.startsWith('createObservable')) {
          (node[kind] as unknown as (o: typeof options, cb: (r: { observe: Recorder }) => void) => unknown)(options, (r) => {
            for (const [v, l] of observations) r.observe(v, l);
            if (failing) throw new Error('callback failed');
          });
        } else {
          const metric = (node[kind] as unknown as (o: typeof options) => Record<string, Recorder>)(options);
          recorders.push(((metric['add'] ?? metric['record']) as Recorder).bind(metric));
        }
      } catch (err) {
        assert.ok(err instanceof DynamoError, `not a DynamoError: ${String(err)}`);
      }
    } else if (roll < 0.9) {
      pick(recorders)(pick(VALUES), labelsOf());
    } else if (endpoints.length > 0) {
      const ep = pick(endpoints);
      ep.setServing(true);
      for (let i = Math.floor(random() * 3); i > 0; i--) ep.recorder.requestEnded(ep.recorder.requestStarted(Math.floor(random() * 100)));
      if (random() < 0.3) ep.recorder.error(pick(['generate', 'deserialization', 'bogus'] as never[]));
    }
  }
}

/** The Prometheus series a collection implies, by the OpenTelemetry→Prometheus mapping, as `name{sorted labels}` → value. */
function expectedSeries(rm: ResourceMetrics): Map<string, number> {
  const out = new Map<string, number>();
  const key = (name: string, attrs: Record<string, unknown>, extra: Record<string, string> = {}) => {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(attrs)) {
      const text = typeof v === 'string' ? v : String(v);
      if (v !== undefined && v !== null && text !== '') labels[k.replace(/[^a-zA-Z0-9_]/g, '_')] = text;
    }
    return seriesKey(name, { ...labels, ...extra });
  };
  const put = (k: string, v: number) => {
    assert.ok(!out.has(k), `two data points for ${k}`);
    out.set(k, v);
  };
  for (const { metrics } of rm.scopeMetrics) {
    for (const m of metrics as MetricData[]) {
      const name = m.descriptor.name;
      if (name === 'uptime_seconds') continue; // a clock: differs between any two collections
      if (m.dataPointType === DataPointType.HISTOGRAM) {
        for (const dp of m.dataPoints) {
          let cumulative = 0;
          dp.value.buckets.boundaries.forEach((b, i) => put(key(`${name}_bucket`, dp.attributes, { le: String(b) }), (cumulative += dp.value.buckets.counts[i]!)));
          cumulative += dp.value.buckets.counts.at(-1)!;
          put(key(`${name}_bucket`, dp.attributes, { le: '+Inf' }), cumulative);
          put(key(`${name}_sum`, dp.attributes), dp.value.sum ?? 0);
          put(key(`${name}_count`, dp.attributes), cumulative);
        }
      } else if (m.dataPointType === DataPointType.SUM || m.dataPointType === DataPointType.GAUGE) {
        const promName = m.dataPointType === DataPointType.SUM && m.isMonotonic && !name.endsWith('_total') ? `${name}_total` : name;
        for (const dp of m.dataPoints) put(key(promName, dp.attributes), dp.value);
      } else {
        assert.fail(`unexpected data point type ${m.dataPointType}`);
      }
    }
  }
  return out;
}

function seriesKey(name: string, labels: Record<string, string>): string {
  return `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
}

function exposedSeries(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const family of parseExposition(text).values()) {
    if (family.name === 'target_info' || family.name === 'uptime_seconds') continue;
    for (const s of family.samples) {
      const k = seriesKey(s.name, s.labels);
      assert.ok(!out.has(k), `two lines for one series: ${k}`);
      out.set(k, s.value);
    }
  }
  return out;
}

/** The same mapping, from what an OTLP receiver decoded off the wire. */
function otlpSeries(exports: Receiver['exports']): Map<string, number> {
  const out = new Map<string, number>();
  const key = (name: string, attrs: Record<string, string>, extra: Record<string, string> = {}) => {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(attrs)) if (v !== '') labels[k.replace(/[^a-zA-Z0-9_]/g, '_')] = v;
    return seriesKey(name, { ...labels, ...extra });
  };
  for (const m of exports.flatMap((e) => e.scopes).flatMap((s) => s.metrics)) {
    if (m.name === 'uptime_seconds') continue;
    for (const p of m.points) {
      if (m.kind === 'histogram') {
        let cumulative = 0;
        p.bounds!.forEach((b, i) => out.set(key(`${m.name}_bucket`, p.attributes, { le: String(b) }), (cumulative += p.bucketCounts![i]!)));
        out.set(key(`${m.name}_bucket`, p.attributes, { le: '+Inf' }), p.count!);
        out.set(key(`${m.name}_sum`, p.attributes), p.sum!);
        out.set(key(`${m.name}_count`, p.attributes), p.count!);
      } else {
        out.set(key(m.kind === 'sum' && m.monotonic === true && !m.name.endsWith('_total') ? `${m.name}_total` : m.name, p.attributes), p.value!);
      }
    }
  }
  return out;
}

/**
 * Through the API each automatic histogram (duration, time to first response, inter-response gap)
 * is a synchronous instrument: its series appears with its first observation, not at 0 from the
 * start (the API has no way to create it empty; docs/otlp.md).
 */
function withoutUnusedDuration(series: Map<string, number>): Map<string, number> {
  const labelsOf = (k: string): string => JSON.stringify((JSON.parse(k.slice(k.indexOf('['))) as Array<[string, string]>).filter(([name]) => name !== 'le'));
  let out = series;
  for (const histogram of AUTOMATIC_HISTOGRAMS) {
    const unused = new Set<string>();
    for (const [k, v] of out) if (k.startsWith(`${histogram}_count[`) && v === 0) unused.add(k.slice(`${histogram}_count`.length));
    out = new Map([...out].filter(([k]) => !(k.startsWith(`${histogram}_`) && unused.has(labelsOf(k)))));
  }
  return out;
}

const AUTOMATIC_HISTOGRAMS = Object.values(EndpointMetric).filter((m) => m.type === 'histogram').map((m) => m.name);

/** Equal, with NaN equal to NaN. */
function sameSeries(actual: Map<string, number>, expected: Map<string, number>, what: string): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), what);
  for (const [k, v] of expected) assert.ok(Object.is(actual.get(k), v) || actual.get(k) === v, `${what}: ${k} is ${actual.get(k)}, expected ${v}`);
}

/** Name-style lint promtool applies to names a user chose; the property is about validity. */
const NAME_LINT = [/should be written in 'snake_case' not 'camelCase'/, /non-counter metrics should not have "_total" suffix/];

describe('exposition property: any sequence of public metric API calls', () => {
  it(`gives a valid exposition equal to the OTLP data, point for point (${CASES} seeded cases)`, async () => {
    let receiver: Receiver | undefined;
    let promtoolRuns = 0;
    let otlpRuns = 0;
    let externalRuns = 0;
    try {
      for (let n = 0; n < CASES; n++) {
        const seed = SEED + n;
        const random = rng(seed);
        const otlp = n % OTLP_EVERY === 0;
        if (otlp) receiver ??= await startHttpReceiver();
        const appReader = n % EXTERNAL_EVERY === 5 ? new AppReader() : undefined;
        const appProvider = appReader === undefined ? undefined : new MeterProvider({ readers: [appReader] });
        const rt = new DistributedRuntime({
          ...(appProvider === undefined ? {} : { meterProvider: appProvider }),
          env: otlp ? { OTEL_EXPORTER_OTLP_ENDPOINT: receiver!.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_METRIC_EXPORT_INTERVAL: '600000' } : {},
          logSink: () => {},
          nats: false,
          handleSignals: false,
          // Compared point for point with an OTLP export: runtime health values move in between.
          runtimeMetrics: false,
        });
        // With OTLP on, start() loads the exporter: the constructor starts nothing (issue 11).
        await rt.start();
        try {
          program(rt, random);
          const text = await rt.metricsText();
          const exposed = exposedSeries(text);
          const produced = expectedSeries((await rt.metricProducer.collect()).resourceMetrics);
          sameSeries(exposed, produced, `seed ${seed}: /metrics vs metricProducer`);
          if (appReader !== undefined) {
            externalRuns++;
            sameSeries(expectedSeries((await appReader.collect()).resourceMetrics), withoutUnusedDuration(produced), `seed ${seed}: the application's provider vs metricProducer`);
          }
          if (n % PROMTOOL_EVERY === 0) {
            promtoolRuns++;
            const check = promtoolCheck(text);
            const problems = check.output.split('\n').filter((line) => line !== '' && !NAME_LINT.some((re) => re.test(line)));
            assert.ok(check.status === 0 || (check.status === 3 && problems.length === 0), `seed ${seed}: promtool ${check.status}: ${check.output}\n${text}`);
          }
          if (otlp) {
            otlpRuns++;
            receiver!.exports.length = 0;
            await rt.forceFlush();
            sameSeries(otlpSeries(receiver!.exports), produced, `seed ${seed}: OTLP/HTTP vs metricProducer`);
          }
        } finally {
          await rt.shutdown();
          await appProvider?.shutdown();
        }
      }
    } finally {
      await receiver?.stop();
    }
    assert.equal(promtoolRuns, Math.ceil(CASES / PROMTOOL_EVERY));
    assert.equal(otlpRuns, Math.ceil(CASES / OTLP_EVERY));
    assert.equal(externalRuns, Math.floor((CASES + EXTERNAL_EVERY - 6) / EXTERNAL_EVERY));
  });
});
