/**
 * Turns the labels of one custom-metric measurement into the attribute set it is recorded under.
 *
 * Invariants, each one a past bug:
 * - one attribute set per distinct *Prometheus* label set: a label whose value is `''`, `undefined`
 *   or `null` is the same as a missing label (Prometheus cannot tell them apart), and every value
 *   is turned into a string before it is keyed, so `{a: 1}` and `{a: '1'}` are one series while
 *   `NaN`, `Infinity` and `-Infinity` stay three;
 * - series are found through one map per declared label, never through a joined string, so no
 *   choice of values can make two label sets share a key;
 * - at most `limit` label sets are kept; the rest share one overflow series that keeps the node's
 *   `dynamo_*` and constant labels (so every endpoint has its own) and carries OpenTelemetry's
 *   `otel.metric.overflow: true`.
 */
import type { Attributes } from '@opentelemetry/api';
import type { Logger } from '../logging/logger.ts';

/** Label values of one measurement, by the names declared in `labelNames`; numbers and booleans are exposed as their string. */
export type Labels = Readonly<Record<string, string | number | boolean>>;

/** OpenTelemetry's attribute for the series that collects measurements past the cardinality limit. */
export const OVERFLOW_ATTRIBUTE = 'otel.metric.overflow';

/** Gives the attribute set of one measurement, or `undefined` to drop it (reported once). */
export type LabelBinder = (labels: Labels | undefined) => Attributes | undefined;

/** A node of the lookup tree: one level per declared label, the leaves are attribute sets. */
type Level = Map<string, Level | Attributes>;

/** The string a label value is exposed as; `''` means "no label"; `undefined`: not a label value. */
export function labelValueString(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
      return String(value);
    case 'undefined':
      return '';
    default:
      return value === null ? '' : undefined;
  }
}

export function labelBinder(metric: string, base: Attributes, labelNames: readonly string[], limit: number, logger: Logger): LabelBinder {
  const allowed = new Set(labelNames);
  const root: Level = new Map();
  const overflow: Attributes = Object.freeze({ ...base, [OVERFLOW_ATTRIBUTE]: true });
  const values: string[] = new Array(labelNames.length);
  let size = 0;
  const drop = (key: string, msg: string, fields: Record<string, unknown>): undefined => {
    logger.once(`${key}:${metric}`, 'warn', msg, { metric, ...fields });
    return undefined;
  };
  return (labels) => {
    if (labels === undefined || labels === null) return base;
    for (const label in labels) {
      if (!allowed.has(label)) return drop(`label:${label}`, 'measurement dropped: label not declared in labelNames', { label });
    }
    for (let i = 0; i < labelNames.length; i++) {
      const raw = labels[labelNames[i]!];
      const value = labelValueString(raw);
      if (value === undefined) return drop(`label-type:${labelNames[i]!}`, 'measurement dropped: a label value must be a string, number or boolean', { label: labelNames[i]!, type: typeof raw });
      values[i] = value;
    }
    let level = root;
    for (let i = 0; i < values.length - 1; i++) {
      let next = level.get(values[i]!) as Level | undefined;
      if (next === undefined) {
        if (size >= limit) return overflowed();
        next = new Map();
        level.set(values[i]!, next);
      }
      level = next;
    }
    const last = values.length === 0 ? '' : values[values.length - 1]!;
    const found = level.get(last) as Attributes | undefined;
    if (found !== undefined) return found;
    if (size >= limit) return overflowed();
    const made: Record<string, string | number | boolean> = { ...(base as Record<string, string>) };
    for (let i = 0; i < values.length; i++) if (values[i] !== '') made[labelNames[i]!] = values[i]!;
    const attrs = Object.freeze(made);
    level.set(last, attrs);
    size++;
    return attrs;
  };

  function overflowed(): Attributes {
    logger.once(`cardinality:${metric}`, 'warn', 'cardinality limit reached: further label sets are counted in one overflow series', {
      metric,
      limit,
      overflow_label: 'otel_metric_overflow="true"',
    });
    return overflow;
  }
}
