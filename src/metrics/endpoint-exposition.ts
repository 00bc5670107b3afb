/**
 * The automatic endpoint metrics rendered straight into Prometheus text — the /metrics fast path.
 * It reads the same recorder numbers the `EndpointMetricsProducer` gives OTLP and other readers,
 * with the same names, label rendering and number format as the general serializer (a test holds
 * the two outputs equal), but builds no OpenTelemetry data objects:
 *
 * - at the start of a scrape every endpoint's numbers are copied into one array: the scrape is one
 *   point in time even though rendering yields to the event loop between chunks;
 * - each endpoint's label strings are rendered once, the first time it is scraped;
 * - each family streams out in chunks of a few hundred endpoints, so neither a giant string nor a
 *   long event-loop block is ever needed.
 */
import type { EndpointRegistry } from './endpoint-producer.ts';
import type { EndpointRecorder } from './endpoint-recorder.ts';
import type { Exemplar } from './exemplars.ts';
import { AUTOMATIC_METRICS, AutomaticType, type AutomaticMetric, type MetricSpec } from './names.ts';
import { exemplarSuffix, ExpositionFormat, formatNumber, joinLabels, renderLabels, scopeLabels, type PromType, type StreamedFamily } from './prometheus-serializer.ts';

interface Rendered {
  /** `{labels}` */
  readonly braces: string;
  /** `{labels,` — completed by an `le="…"}` fragment */
  readonly open: string;
  readonly le: readonly string[];
  /** `{labels}` of each `error_type` series: `error_type` sorts among the user's labels, so each is rendered whole. */
  readonly errors: readonly string[];
}

/** Endpoints per chunk: between chunks the event loop gets a turn. */
const CHUNK = 200;

// Snapshot layout per endpoint, from its offset: the scalars (each automatic metric's `read`, in
// table order), the duration sum, then errors, then buckets.
const SCALARS: readonly AutomaticMetric[] = AUTOMATIC_METRICS.filter((m) => m.read !== undefined);
const SUM = SCALARS.length;
const ERRORS = SUM + 1;

interface Snapshot {
  /** Each endpoint's label strings, by snapshot index. */
  readonly rendered: readonly Rendered[];
  readonly count: number;
  readonly values: Float64Array;
  readonly offsets: Uint32Array;
  /** Each endpoint's duration exemplars, by snapshot index (undefined: none recorded). */
  readonly exemplars: ReadonlyArray<ReadonlyArray<Exemplar | undefined> | undefined>;
}

/** `om`: OpenMetrics, where histogram buckets carry their exemplars. */
type Line = (snap: Snapshot, i: number, rendered: Rendered, om: boolean) => string;

export class EndpointExposition {
  private readonly registry: EndpointRegistry;
  private readonly withScopeLabels: boolean;
  private readonly rendered = new WeakMap<EndpointRecorder, Rendered>();
  /** `le="…"}` fragments, shared by endpoints with the same buckets. */
  private readonly leCache = new Map<string, readonly string[]>();

  constructor(registry: EndpointRegistry, withScopeLabels: boolean) {
    this.registry = registry;
    this.withScopeLabels = withScopeLabels;
  }

  /** Takes the snapshot now; the returned families render from it. */
  families(): StreamedFamily[] {
    const entries = this.registry.entries;
    if (entries.length === 0) return [];
    const snap = this.snapshot();
    const family = (spec: MetricSpec, type: PromType, line: Line): StreamedFamily => ({
      name: spec.name,
      type,
      help: spec.help,
      chunks: (format) => this.chunks(snap, line, format === ExpositionFormat.OpenMetrics),
    });
    return AUTOMATIC_METRICS.map((metric) => {
      if (metric.type === AutomaticType.Histogram) return family(metric, 'histogram', histogramLines(metric.name));
      if (metric.perErrorType === true) return family(metric, 'counter', errorLines(metric.name));
      const slot = SCALARS.indexOf(metric);
      const name = metric.name;
      return family(metric, metric.type === AutomaticType.Counter ? 'counter' : 'gauge', (s, i, r) => `${name}${r.braces} ${formatNumber(s.values[s.offsets[i]! + slot]!)}\n`);
    });
  }

  private snapshot(): Snapshot {
    const entries = this.registry.entries;
    const count = entries.length;
    const offsets = new Uint32Array(count + 1);
    for (let i = 0; i < count; i++) {
      const r = entries[i]!.recorder;
      offsets[i + 1] = offsets[i]! + ERRORS + r.errors.length + r.bucketCounts.length;
    }
    const values = new Float64Array(offsets[count]!);
    const rendered: Rendered[] = new Array(count);
    const exemplars: Array<ReadonlyArray<Exemplar | undefined> | undefined> = new Array(count);
    for (let i = 0; i < count; i++) {
      const { scope, recorder: r } = entries[i]!;
      let labels = this.rendered.get(r);
      if (labels === undefined) {
        labels = this.prepare(r, this.withScopeLabels ? scopeLabels(scope.name, scope.version) : '');
        this.rendered.set(r, labels);
      }
      rendered[i] = labels;
      const o = offsets[i]!;
      for (let k = 0; k < SCALARS.length; k++) values[o + k] = SCALARS[k]!.read!(r);
      values[o + SUM] = r.durationSum;
      values.set(r.errors, o + ERRORS);
      values.set(r.bucketCounts, o + ERRORS + r.errors.length);
      exemplars[i] = r.durationExemplars.snapshot();
    }
    return { rendered, count, values, offsets, exemplars };
  }

  private async *chunks(snap: Snapshot, line: Line, om: boolean): AsyncGenerator<string> {
    const rendered = snap.rendered;
    for (let start = 0; start < snap.count; start += CHUNK) {
      if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      let out = '';
      const end = Math.min(snap.count, start + CHUNK);
      for (let i = start; i < end; i++) out += line(snap, i, rendered[i]!, om);
      yield out;
    }
  }

  private prepare(r: EndpointRecorder, scoped: string): Rendered {
    const labels = joinLabels(renderLabels(r.attributes), scoped);
    const key = Array.from(r.bounds).join(',');
    let le = this.leCache.get(key);
    if (le === undefined) {
      le = [...Array.from(r.bounds, (b) => `le="${formatNumber(b)}"}`), 'le="+Inf"}'];
      this.leCache.set(key, le);
    }
    return {
      braces: labels === '' ? '' : `{${labels}}`,
      open: labels === '' ? '{' : `{${labels},`,
      le,
      errors: r.errorAttributes.map((a) => `{${joinLabels(renderLabels(a), scoped)}}`),
    };
  }
}

function errorLines(name: string): Line {
  return (s, i, r) => {
    const o = s.offsets[i]! + ERRORS;
    let out = '';
    for (let k = 0; k < r.errors.length; k++) out += `${name}${r.errors[k]} ${formatNumber(s.values[o + k]!)}\n`;
    return out;
  };
}

function histogramLines(name: string): Line {
  const bucket = `${name}_bucket`;
  const sum = `${name}_sum`;
  const count = `${name}_count`;
  return (s, i, r, om) => {
    const o = s.offsets[i]! + ERRORS + r.errors.length;
    const exemplars = om ? s.exemplars[i] : undefined;
    let out = '';
    let cumulative = 0;
    for (let k = 0; k < r.le.length; k++) {
      cumulative += s.values[o + k]!;
      const e = exemplars?.[k];
      // The exemplar of the (non-cumulative) bucket k lies within this line's bounds: (le[k-1], le[k]].
      out += `${bucket}${r.open}${r.le[k]} ${formatNumber(cumulative)}${e === undefined ? '' : exemplarSuffix(e.traceId, e.spanId, e.value, e.timeMs)}\n`;
    }
    return `${out}${sum}${r.braces} ${formatNumber(s.values[s.offsets[i]! + SUM]!)}\n${count}${r.braces} ${formatNumber(cumulative)}\n`;
  };
}
