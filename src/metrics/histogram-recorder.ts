/**
 * One explicit-bucket histogram as plain numbers: what every automatic histogram (duration, time to
 * first response, inter-response gap, the caller's) records into on the request path. Recording is
 * a short bucket scan and four additions — no attributes, no lookup, no allocation.
 */

export class HistogramRecorder {
  /** Bucket upper bounds, in seconds. */
  readonly bounds: Float64Array;
  /** Non-cumulative, `bounds.length + 1` buckets, the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  /** The smallest value recorded (Infinity before any). */
  min = Infinity;
  /** The largest value recorded (-Infinity before any). */
  max = -Infinity;
  /** Also receives every value, when the metrics go through a provider we do not own (see api-bridge.ts). */
  sink: ((seconds: number) => void) | undefined = undefined;

  constructor(buckets: readonly number[]) {
    this.bounds = Float64Array.from(buckets);
    this.counts = new Float64Array(buckets.length + 1);
  }

  /** Records one value in seconds; returns the index of the bucket it was counted in. */
  observe(seconds: number): number {
    if (!(seconds >= 0)) seconds = 0; // NaN or a clock step backwards: count it, in the first bucket
    const bounds = this.bounds;
    const n = bounds.length;
    let i = 0;
    while (i < n && seconds > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
    if (seconds < this.min) this.min = seconds;
    if (seconds > this.max) this.max = seconds;
    if (this.sink !== undefined) this.sink(seconds);
    return i;
  }
}
