/**
 * The automatic metrics (every endpoint's, every caller's) rendered straight into Prometheus text —
 * the /metrics fast path. It reads the same recorder numbers the `EndpointMetricsProducer` gives
 * OTLP and other readers, with the same names, label rendering and number format as the general
 * serializer (a test holds the two outputs equal), but builds no OpenTelemetry data objects:
 *
 * - at the start of a scrape every recorder's numbers are copied into one array per table: the
 *   scrape is one point in time even though rendering yields to the event loop between chunks;
 * - each recorder's label strings are rendered once, the first time it is scraped;
 * - each family streams out in chunks of a few hundred endpoints, so neither a giant string nor a
 *   long event-loop block is ever needed.
 */
import type { EndpointRegistry } from './endpoint-producer.ts';
import type { Exemplar } from './exemplars.ts';
import { AutomaticType, type AutomaticMetric, type MetricsRecorder } from './names.ts';
import { exemplarSuffix, ExpositionFormat, formatNumber, joinLabels, renderLabels, scopeLabels, type PromType, type StreamedFamily } from './prometheus-serializer.ts';
import { layoutOf, readInto } from './recorder-layout.ts';

interface Rendered {
  /** `{labels}` */
  readonly braces: string;
  /** `{labels,` — completed by an `le="…"}` fragment */
  readonly open: string;
  /**
   * Per metric in table order: a histogram's `le="…"}` fragments, a labelled counter's `{labels}`
   * per value (its label sorts among the user's labels, so each is rendered whole), else nothing.
   */
  readonly parts: readonly (readonly string[])[];
  /** Per metric in table order: its offset in the recorder's slice of the snapshot. */
  readonly slots: Uint32Array;
}

/** Recorders per chunk: between chunks the event loop gets a turn. */
const CHUNK = 200;

/** The recorders of one table (endpoints, or callers), one point in time. */
interface Snapshot {
  /** Each recorder's label strings, by snapshot index. */
  readonly rendered: readonly Rendered[];
  readonly count: number;
  readonly values: Float64Array;
  readonly offsets: Uint32Array;
  /**
   * For each histogram of the table that keeps exemplars (by its index in the table), each
   * recorder's exemplars by snapshot index (undefined: none recorded).
   */
  readonly exemplars: ReadonlyMap<number, ReadonlyArray<ReadonlyArray<Exemplar | undefined> | undefined>>;
}

/** `om`: OpenMetrics, where histogram buckets carry their exemplars. */
type Line = (snap: Snapshot, i: number, rendered: Rendered, om: boolean) => string;

export class EndpointExposition {
  private readonly registry: EndpointRegistry;
  private readonly withScopeLabels: boolean;
  private readonly rendered = new WeakMap<MetricsRecorder, Rendered>();
  /** `le="…"}` fragments, shared by histograms with the same buckets. */
  private readonly leCache = new Map<string, readonly string[]>();

  constructor(registry: EndpointRegistry, withScopeLabels: boolean) {
    this.registry = registry;
    this.withScopeLabels = withScopeLabels;
  }

  /** Takes the snapshot now; the returned families render from it. */
  families(): StreamedFamily[] {
    const out: StreamedFamily[] = [];
    for (const [table, entries] of this.registry.byTable()) {
      const snap = this.snapshot(entries, table);
      table.forEach((metric, k) => {
        const line = lineOf(metric, k);
        const type: PromType = metric.type === AutomaticType.Histogram ? 'histogram' : metric.type === AutomaticType.Counter ? 'counter' : 'gauge';
        out.push({ name: metric.name, type, help: metric.help, chunks: (format) => this.chunks(snap, line, format === ExpositionFormat.OpenMetrics) });
      });
    }
    return out;
  }

  private snapshot(entries: ReturnType<EndpointRegistry['byTable']> extends Map<unknown, infer E> ? E : never, table: readonly AutomaticMetric<never>[]): Snapshot {
    const count = entries.length;
    const offsets = new Uint32Array(count + 1);
    for (let i = 0; i < count; i++) offsets[i + 1] = offsets[i]! + layoutOf(entries[i]!.recorder).size;
    const values = new Float64Array(offsets[count]!);
    const rendered: Rendered[] = new Array(count);
    const keeping = (table as readonly AutomaticMetric<MetricsRecorder>[]).flatMap((metric, k) => (metric.exemplars === undefined ? [] : [[k, metric.exemplars] as const]));
    const exemplars = new Map(keeping.map(([k]) => [k, new Array<ReadonlyArray<Exemplar | undefined> | undefined>(count)]));
    for (let i = 0; i < count; i++) {
      const { scope, recorder: r } = entries[i]!;
      let labels = this.rendered.get(r);
      if (labels === undefined) {
        labels = this.prepare(r, this.withScopeLabels ? scopeLabels(scope.name, scope.version) : '');
        this.rendered.set(r, labels);
      }
      rendered[i] = labels;
      readInto(r, layoutOf(r), values, offsets[i]!);
      for (const [k, of] of keeping) exemplars.get(k)![i] = of(r).snapshot();
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

  private prepare(r: MetricsRecorder, scoped: string): Rendered {
    const labels = joinLabels(renderLabels(r.attributes), scoped);
    const table = r.table as readonly AutomaticMetric<MetricsRecorder>[];
    const parts = table.map((metric): readonly string[] => {
      if (metric.histogram !== undefined) return this.leOf(metric.histogram(r).bounds);
      if (metric.labelled !== undefined) return r.seriesAttributes(metric as AutomaticMetric<never>).map((a) => `{${joinLabels(renderLabels(a), scoped)}}`);
      return [];
    });
    return {
      braces: labels === '' ? '' : `{${labels}}`,
      open: labels === '' ? '{' : `{${labels},`,
      parts,
      slots: layoutOf(r).slots,
    };
  }

  private leOf(bounds: Float64Array): readonly string[] {
    const key = Array.from(bounds).join(',');
    let le = this.leCache.get(key);
    if (le === undefined) {
      le = [...Array.from(bounds, (b) => `le="${formatNumber(b)}"}`), 'le="+Inf"}'];
      this.leCache.set(key, le);
    }
    return le;
  }
}

function lineOf(metric: AutomaticMetric<never>, k: number): Line {
  const name = metric.name;
  if (metric.type === AutomaticType.Histogram) return histogramLines(name, k);
  if (metric.labelled !== undefined) {
    return (s, i, r) => {
      const o = s.offsets[i]! + r.slots[k]!;
      const series = r.parts[k]!;
      let out = '';
      for (let v = 0; v < series.length; v++) out += `${name}${series[v]} ${formatNumber(s.values[o + v]!)}\n`;
      return out;
    };
  }
  return (s, i, r) => `${name}${r.braces} ${formatNumber(s.values[s.offsets[i]! + r.slots[k]!]!)}\n`;
}

function histogramLines(name: string, k: number): Line {
  const bucket = `${name}_bucket`;
  const sum = `${name}_sum`;
  const count = `${name}_count`;
  return (s, i, r, om) => {
    const o = s.offsets[i]! + r.slots[k]!;
    const le = r.parts[k]!;
    const exemplars = om ? s.exemplars.get(k)?.[i] : undefined;
    let out = '';
    let cumulative = 0;
    for (let b = 0; b < le.length; b++) {
      cumulative += s.values[o + b]!;
      const e = exemplars?.[b];
      // The exemplar of the (non-cumulative) bucket b lies within this line's bounds: (le[b-1], le[b]].
      out += `${bucket}${r.open}${le[b]} ${formatNumber(cumulative)}${e === undefined ? '' : exemplarSuffix(e.traceId, e.spanId, e.value, e.timeMs)}\n`;
    }
    return `${out}${sum}${r.braces} ${formatNumber(s.values[o + le.length]!)}\n${count}${r.braces} ${formatNumber(cumulative)}\n`;
  };
}
