/**
 * Binds, once per recorder, the frozen attribute set of every series of its labelled metrics
 * (`error_type`, `reason`): collections hand these same objects out, never build them.
 */
import type { Attributes } from '@opentelemetry/api';
import type { AutomaticMetric } from './names.ts';

export function bindSeriesAttributes(table: readonly AutomaticMetric<never>[], attributes: Attributes): Map<AutomaticMetric<never>, readonly Attributes[]> {
  const bound = new Map<AutomaticMetric<never>, readonly Attributes[]>();
  for (const metric of table) {
    const series = metric.labelled;
    if (series === undefined) continue;
    bound.set(metric, Object.freeze(series.values.map((value) => Object.freeze({ ...attributes, [series.label]: value }))));
  }
  return bound;
}
