/**
 * Where each metric of a recorder sits in a flat array of its numbers: one slot for a counter or
 * up-down counter, one per label value for a labelled counter, and for a histogram its bucket
 * counts then its sum. The /metrics fast path and the producer's delta snapshots both copy a
 * recorder into this layout, so a collection reads one point in time.
 */
import type { AutomaticMetric, MetricsRecorder } from './names.ts';

export interface Layout {
  /** Offset of each metric of the recorder's table, in table order. */
  readonly slots: Uint32Array;
  /** Numbers in all. */
  readonly size: number;
}

const layouts = new WeakMap<MetricsRecorder, Layout>();

/** A recorder's layout never changes (bucket counts are fixed at creation): computed once. */
export function layoutOf(r: MetricsRecorder): Layout {
  let layout = layouts.get(r);
  if (layout === undefined) {
    const slots = new Uint32Array(r.table.length);
    let size = 0;
    r.table.forEach((metric, k) => {
      slots[k] = size;
      size += widthOf(metric, r);
    });
    layout = { slots, size };
    layouts.set(r, layout);
  }
  return layout;
}

function widthOf(metric: AutomaticMetric<never>, r: MetricsRecorder): number {
  const m = metric as AutomaticMetric<MetricsRecorder>;
  if (m.histogram !== undefined) return m.histogram(r).counts.length + 1;
  if (m.labelled !== undefined) return m.labelled.values.length;
  return 1;
}

/** Copies the recorder's numbers into `values` from `offset`, in its layout. */
export function readInto(r: MetricsRecorder, layout: Layout, values: Float64Array, offset: number): void {
  const table = r.table as readonly AutomaticMetric<MetricsRecorder>[];
  for (let k = 0; k < table.length; k++) {
    const m = table[k]!;
    const o = offset + layout.slots[k]!;
    if (m.histogram !== undefined) {
      const h = m.histogram(r);
      values.set(h.counts, o);
      values[o + h.counts.length] = h.sum;
    } else if (m.labelled !== undefined) {
      values.set(m.labelled.counts(r), o);
    } else {
      values[o] = m.read!(r);
    }
  }
}

/** The recorder's numbers now, in its layout. */
export function snapshotOf(r: MetricsRecorder): Float64Array {
  const layout = layoutOf(r);
  const values = new Float64Array(layout.size);
  readInto(r, layout, values, 0);
  return values;
}
