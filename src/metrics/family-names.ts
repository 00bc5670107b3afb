/**
 * The names a metric family occupies in an exposition. A family is more than its name: a histogram
 * `x` writes `x_bucket`, `x_sum`, `x_count` (and `x_created` in OpenMetrics); a counter `x_total` is
 * the OpenMetrics family `x`. Two families that occupy one name produce an exposition Prometheus
 * rejects ("second HELP line") or silently misreads, so a new family is checked against all of
 * them at creation.
 */

/** Prometheus type of a family, as `# TYPE` says it. */
export type FamilyType = 'counter' | 'gauge' | 'histogram';

/** Sample-name suffixes the text formats give meaning to. */
const RESERVED_SUFFIXES = ['_total', '_created', '_count', '_sum', '_bucket', '_info'] as const;

/** Every name the family `name` of `type` occupies: its own, its samples', its OpenMetrics family name. */
export function occupiedNames(name: string, type: FamilyType): string[] {
  const names = [name];
  switch (type) {
    case 'counter': {
      const base = name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
      names.push(base, `${base}_total`, `${base}_created`);
      break;
    }
    case 'histogram':
      names.push(`${name}_bucket`, `${name}_sum`, `${name}_count`, `${name}_created`);
      break;
    default:
      break;
  }
  // A gauge or histogram whose name ends like a sample of another type reads, to an OpenMetrics
  // parser, as a sample of the family without that suffix: that family name is taken too.
  if (type !== 'counter') {
    for (const suffix of RESERVED_SUFFIXES) {
      if (name.endsWith(suffix) && name.length > suffix.length) names.push(name.slice(0, -suffix.length));
    }
  }
  return [...new Set(names)];
}

/**
 * The suffix of `name` that would make Prometheus tooling read a family of `type` as something
 * else (promtool rejects these: a gauge `x_sum`, a histogram `x_total`), if any. Counters get
 * `_total` appended, so only their part before it is checked.
 */
export function misleadingSuffix(name: string, type: FamilyType): string | undefined {
  const stem = type === 'counter' && name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
  for (const suffix of RESERVED_SUFFIXES) {
    if (stem.endsWith(suffix) && stem.length > suffix.length) return suffix;
  }
  return undefined;
}

/** Who occupies which name; one per runtime. */
export class FamilyNames {
  private readonly owners = new Map<string, string>();

  /** The family that already occupies one of the names `name` of `type` would, if any (itself excluded). */
  clash(name: string, type: FamilyType): { family: string; on: string } | undefined {
    for (const on of occupiedNames(name, type)) {
      const family = this.owners.get(on);
      if (family !== undefined && family !== name) return { family, on };
    }
    return undefined;
  }

  claim(name: string, type: FamilyType): void {
    for (const on of occupiedNames(name, type)) if (!this.owners.has(on)) this.owners.set(on, name);
  }
}
