/**
 * Exemplars of one explicit-bucket histogram: for each bucket, the last sampled measurement that
 * fell into it — its value, when, and the trace and span it belongs to. A Prometheus or Grafana
 * user goes from a slow bucket straight to a trace that landed there.
 *
 * Storage is preallocated, one slot per bucket, and an offer is three stores: no allocation, no
 * lookup. The span context is kept as it is (its ids are read at collection time). Attach
 * one to any histogram with bucket indices (`new BucketExemplars(bounds.length + 1)`) and call
 * `offer` with the bucket the measurement was counted in.
 */

/** What identifies the span a measurement belongs to (an OpenTelemetry `SpanContext` is one). */
export interface ExemplarTrace {
  readonly traceId: string;
  readonly spanId: string;
}

/** One bucket's exemplar, as read at collection time. */
export interface Exemplar {
  /** Index of the (non-cumulative) bucket it was counted in. */
  readonly bucket: number;
  /** The measurement. */
  readonly value: number;
  /** When it was recorded, in ms since the Unix epoch. */
  readonly timeMs: number;
  readonly traceId: string;
  readonly spanId: string;
}

export class BucketExemplars {
  private readonly values: Float64Array;
  private readonly times: Float64Array;
  /** The span context itself, not its two ids: one store per offer, and its strings are not copied. */
  private readonly traces: Array<ExemplarTrace | undefined>;
  /** Whether any exemplar was ever offered: an endpoint without tracing costs a scrape nothing. */
  private any = false;

  /** `buckets`: how many buckets the histogram has, the +Inf one included. */
  constructor(buckets: number) {
    this.values = new Float64Array(buckets);
    this.times = new Float64Array(buckets);
    this.traces = new Array<ExemplarTrace | undefined>(buckets).fill(undefined);
  }

  /** The measurement `value`, counted in `bucket` at `timeMs` (epoch ms), was made inside `trace`: it becomes the bucket's exemplar. */
  offer(bucket: number, value: number, timeMs: number, trace: ExemplarTrace): void {
    this.values[bucket] = value;
    this.times[bucket] = timeMs;
    this.traces[bucket] = trace;
    this.any = true;
  }

  /** Bucket `bucket`'s exemplar, or undefined when no sampled measurement fell into it. */
  get(bucket: number): Exemplar | undefined {
    const trace = this.traces[bucket];
    if (trace === undefined) return undefined;
    return { bucket, value: this.values[bucket]!, timeMs: this.times[bucket]!, traceId: trace.traceId, spanId: trace.spanId };
  }

  /**
   * Every bucket's exemplar (undefined where there is none), copied: the copy stays as it is while
   * recording goes on. Undefined when no bucket has one.
   */
  snapshot(): Array<Exemplar | undefined> | undefined {
    if (!this.any) return undefined;
    return Array.from(this.traces, (_, bucket) => this.get(bucket));
  }
}
