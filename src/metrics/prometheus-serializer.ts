/**
 * OpenTelemetry metric data → Prometheus text exposition format 0.0.4, or OpenMetrics 1.0 text
 * when the scraper asks for it (status-server.ts negotiates): the same lines, with OpenMetrics'
 * metadata (counter families named without `_total`, `info` for `target_info`), no blank lines,
 * exemplars on histogram buckets where a family has them, and `# EOF`.
 *
 * Why not the stock `@opentelemetry/exporter-prometheus` serializer: with one instrumentation
 * scope per endpoint it writes each metric family once per scope — repeated `# HELP`/`# TYPE`
 * lines that `promtool check metrics` and strict parsers reject — and it renders everything in
 * one synchronous pass. Here families are merged across scopes (one HELP, one TYPE each), label
 * strings are built once per attribute set and cached, and long outputs yield to the event loop.
 */
import { diag, type Attributes, type AttributeValue } from '@opentelemetry/api';
import { DataPointType, type DataPoint, type Histogram, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

/** Options of the Prometheus text rendering. */
export interface PrometheusSerializerOptions {
  /** Add `otel_scope_name`/`otel_scope_version` to every series. Default `false`: the `dynamo_*` labels already say which endpoint a series belongs to. */
  withScopeLabels?: boolean;
  /** Emit `target_info` carrying the resource attributes. Default `true`. */
  withTargetInfo?: boolean;
  /** Data points to render between yields to the event loop. Default 4000. */
  yieldEvery?: number;
}

export type PromType = 'counter' | 'gauge' | 'histogram';

/** Which text format an exposition is written in. */
export const ExpositionFormat = {
  /** Prometheus text format 0.0.4. */
  Text: 'text',
  /** OpenMetrics 1.0 text. */
  OpenMetrics: 'openmetrics',
} as const;
/** `text` (Prometheus 0.0.4) or `openmetrics` (OpenMetrics 1.0). */
export type ExpositionFormat = (typeof ExpositionFormat)[keyof typeof ExpositionFormat];

/** One data point of a family, rendered when the family is written out. */
interface Point {
  /** Its own labels, rendered. */
  readonly labels: string;
  /** Its scope's `otel_scope_*` labels. */
  readonly scoped: string;
  /** A number, or a histogram's value in a `histogram` family. */
  readonly value: number | Histogram;
}

/** One metric family being rendered. */
export interface Family {
  readonly type: PromType;
  readonly help: string;
  readonly points: Point[];
  /** Scopes seen, by the label strings their points carry: two scopes with one label set need scope labels. */
  readonly owners: Map<string, string>;
  /** Set when two scopes wrote the same label set: the family is written with `otel_scope_*` labels. */
  scopeLabels: boolean;
}

export type Families = Map<string, Family>;

/** A family rendered outside the SDK's data (the endpoint metrics' fast path), streamed in chunks. */
export interface StreamedFamily {
  readonly name: string;
  readonly type: PromType;
  readonly help: string;
  /** Its sample lines, each ending in a newline, in chunks; in OpenMetrics with the exemplars it has. */
  chunks(format: ExpositionFormat): AsyncIterable<string>;
}

/** Renders OpenTelemetry metric data as Prometheus text: one `# HELP`/`# TYPE` per family, whatever the scopes. */
export class PrometheusSerializer {
  private readonly options: PrometheusSerializerOptions;
  /** Label strings by attribute set: producers hand the same frozen sets every collection. */
  private readonly labelCache = new WeakMap<Attributes, string>();
  private readonly warned = new Set<string>();

  constructor(options: PrometheusSerializerOptions = {}) {
    this.options = options;
  }

  /** The whole exposition as one string. */
  async serialize(resourceMetrics: ResourceMetrics, streamed: readonly StreamedFamily[] = [], format: ExpositionFormat = ExpositionFormat.Text): Promise<string> {
    let out = '';
    for await (const chunk of this.chunks(resourceMetrics, streamed, format)) out += chunk;
    return out;
  }

  /**
   * The exposition in chunks, families sorted by name, `target_info` first. Between chunks the
   * event loop gets a turn; a consumer can write each chunk out as it comes (see the status server).
   */
  chunks(resourceMetrics: ResourceMetrics, streamed: readonly StreamedFamily[] = [], format: ExpositionFormat = ExpositionFormat.Text): AsyncGenerator<string> {
    return chunks(resourceMetrics, this.options, this, streamed, format);
  }

  /** @internal The family `name` of `type`, created if new; `undefined` (reported once) if the name is taken by another type. */
  family(families: Families, name: string, type: PromType, help: string): Family | undefined {
    const family = families.get(name);
    if (family === undefined) {
      const created: Family = { type, help: help || name, points: [], owners: new Map(), scopeLabels: false };
      families.set(name, created);
      return created;
    }
    if (family.type !== type) {
      this.warnOnce(`type:${name}:${type}`, `Prometheus exposition: ${name} is already a ${family.type}; a ${type} of the same name is left out of /metrics`);
      return undefined;
    }
    return family;
  }

  /** @internal */
  warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    diag.warn(message);
  }

  /** @internal `name="value",…` with names sanitized and sorted (see `renderLabels`), cached per attribute set. */
  labels(attributes: Attributes): string {
    let text = this.labelCache.get(attributes);
    if (text === undefined) {
      text = renderLabels(attributes);
      this.labelCache.set(attributes, text);
    }
    return text;
  }
}

/** One-off rendering; keep a `PrometheusSerializer` to reuse its label cache across scrapes. */
export function serializeResourceMetrics(resourceMetrics: ResourceMetrics, options: PrometheusSerializerOptions = {}): Promise<string> {
  return new PrometheusSerializer(options).serialize(resourceMetrics);
}

async function* chunks(
  resourceMetrics: ResourceMetrics,
  options: PrometheusSerializerOptions,
  ctx: PrometheusSerializer,
  streamed: readonly StreamedFamily[],
  format: ExpositionFormat,
): AsyncGenerator<string> {
  const om = format === ExpositionFormat.OpenMetrics;
  const withScopeLabels = options.withScopeLabels ?? false;
  const yieldEvery = options.yieldEvery ?? 4000;
  const families = new Map<string, Family>();
  let sinceYield = 0;

  for (const { scope, metrics } of resourceMetrics.scopeMetrics) {
    const scoped = scopeLabels(scope.name, scope.version);
    for (const metric of metrics) {
      sinceYield += renderMetric(ctx, families, metric, scoped);
      if (sinceYield >= yieldEvery) {
        sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }

  const streams = new Map<string, StreamedFamily>();
  for (const family of streamed) {
    if (ctx.family(families, family.name, family.type, family.help) !== undefined) streams.set(family.name, family);
  }

  let first = true;
  if (options.withTargetInfo ?? true) {
    const labels = ctx.labels(resourceMetrics.resource.attributes);
    const metadata = om ? '# HELP target Target metadata\n# TYPE target info\n' : '# HELP target_info Target metadata\n# TYPE target_info gauge\n';
    yield `${metadata}target_info${labels === '' ? '' : `{${labels}}`} 1\n`;
    first = false;
  }
  for (const name of [...families.keys()].sort()) {
    const family = families.get(name)!;
    // OpenMetrics has no blank lines, and names a counter family without the `_total` of its sample.
    const separator = first || om ? '' : '\n';
    const metaName = om && family.type === 'counter' && name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
    const help = om ? escapeOpenMetricsHelp(family.help) : escapeHelp(family.help);
    yield `${separator}# HELP ${metaName} ${help}\n# TYPE ${metaName} ${family.type}\n${familyLines(ctx, name, family, withScopeLabels)}`;
    first = false;
    const stream = streams.get(name);
    if (stream !== undefined) for await (const chunk of stream.chunks(format)) yield chunk;
  }
  if (om) yield '# EOF\n';
}

/** Renders one metric into its family; returns the number of data points rendered. */
function renderMetric(ctx: PrometheusSerializer, families: Map<string, Family>, metric: MetricData, scopeLabels: string): number {
  const { descriptor } = metric;
  let type: PromType;
  let name = sanitizeMetricName(descriptor.name);
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      if (metric.isMonotonic) {
        type = 'counter';
        if (!name.endsWith('_total')) name += '_total';
      } else {
        type = 'gauge';
      }
      break;
    case DataPointType.GAUGE:
      type = 'gauge';
      break;
    case DataPointType.HISTOGRAM:
      type = 'histogram';
      break;
    default:
      ctx.warnOnce(`exp:${name}`, `Prometheus exposition: ${name} is an exponential histogram, which text format 0.0.4 cannot carry; it is left out of /metrics`);
      return 0;
  }

  const family = ctx.family(families, name, type, descriptor.description);
  if (family === undefined) return 0;

  for (const dp of metric.dataPoints) {
    const labels = ctx.labels(dp.attributes);
    const owner = family.owners.get(labels);
    if (owner === undefined) family.owners.set(labels, scopeLabels);
    else if (owner !== scopeLabels) family.scopeLabels = true;
    family.points.push({ labels, scoped: scopeLabels, value: (dp as DataPoint<number | Histogram>).value });
  }
  return metric.dataPoints.length;
}

function histogramLines(name: string, labels: string, value: Histogram): string {
  const prefix = labels === '' ? '' : `${labels},`;
  const { boundaries, counts } = value.buckets;
  let out = '';
  let cumulative = 0;
  for (let i = 0; i < boundaries.length; i++) {
    cumulative += counts[i] ?? 0;
    out += `${name}_bucket{${prefix}le="${formatNumber(boundaries[i]!)}"} ${formatNumber(cumulative)}\n`;
  }
  cumulative += counts[boundaries.length] ?? 0;
  const braces = labels === '' ? '' : `{${labels}}`;
  return `${out}${name}_bucket{${prefix}le="+Inf"} ${formatNumber(cumulative)}\n${name}_sum${braces} ${formatNumber(value.sum ?? 0)}\n${name}_count${braces} ${formatNumber(cumulative)}\n`;
}

/**
 * A family's sample lines: one per Prometheus series, never two. Scope labels are added when asked
 * for, or when two scopes (meters) wrote the same label set — without them Prometheus would keep
 * one of the two and drop the other without a word. A label set written twice by one scope (two
 * attribute keys that sanitize to one label name) keeps its first point; the rest is reported once.
 */
function familyLines(ctx: PrometheusSerializer, name: string, family: Family, withScopeLabels: boolean): string {
  const scoped = withScopeLabels || family.scopeLabels;
  const seen = new Set<string>();
  let out = '';
  for (const point of family.points) {
    const labels = scoped ? joinLabels(point.labels, point.scoped) : point.labels;
    if (seen.has(labels)) {
      ctx.warnOnce(`dup:${name}`, `Prometheus exposition: ${name} has two data points with the labels {${labels}}; the second is left out of /metrics`);
      continue;
    }
    seen.add(labels);
    out +=
      family.type === 'histogram'
        ? histogramLines(name, labels, point.value as Histogram)
        : `${name}${labels === '' ? '' : `{${labels}}`} ${formatNumber(point.value as number)}\n`;
  }
  return out;
}

export function joinLabels(a: string, b: string): string {
  if (a === '') return b;
  if (b === '') return a;
  return `${a},${b}`;
}

/**
 * `name="value",…` with names sanitized and sorted. Attribute keys that sanitize to the same
 * label name have their values joined with `;` (OpenTelemetry's Prometheus compatibility rule),
 * so a series never carries a duplicate label. An empty value is no label at all, as Prometheus
 * reads it.
 */
export function renderLabels(attributes: Attributes): string {
  const merged = new Map<string, string>();
  for (const key of Object.keys(attributes).sort()) {
    const raw = attributes[key];
    if (raw === undefined || raw === null) continue;
    const label = sanitizeLabelName(key);
    const value = attributeToString(raw);
    if (value === '') continue;
    const prior = merged.get(label);
    merged.set(label, prior === undefined ? value : `${prior};${value}`);
  }
  const parts: string[] = [];
  for (const label of [...merged.keys()].sort()) parts.push(`${label}="${escapeLabelValue(merged.get(label)!)}"`);
  return parts.join(',');
}

function attributeToString(value: AttributeValue): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

export function formatNumber(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Number.isNaN(value)) return 'NaN';
  return String(value);
}

/** `otel_scope_name="…",otel_scope_version="…"`. */
export function scopeLabels(name: string, version: string | undefined): string {
  return `otel_scope_name="${escapeLabelValue(name)}",otel_scope_version="${escapeLabelValue(version ?? '')}"`;
}

export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

/** OpenMetrics escapes `"` in help text too. */
function escapeOpenMetricsHelp(help: string): string {
  return /[\\\n"]/.test(help) ? help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : help;
}

/**
 * An OpenMetrics exemplar, appended to a sample line (before its newline):
 * ` # {trace_id="…",span_id="…"} <value> <timestamp in seconds>`.
 */
export function exemplarSuffix(traceId: string, spanId: string, value: number, timeMs: number): string {
  return ` # {trace_id="${escapeLabelValue(traceId)}",span_id="${escapeLabelValue(spanId)}"} ${formatNumber(value)} ${(timeMs / 1000).toFixed(3)}`;
}

function escapeHelp(help: string): string {
  return /[\\\n]/.test(help) ? help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') : help;
}

export function sanitizeMetricName(name: string): string {
  let out = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  if (/^[0-9]/.test(out)) out = `_${out}`;
  return out;
}

export function sanitizeLabelName(name: string): string {
  let out = name.replace(/[^a-zA-Z0-9_]/g, '_');
  if (/^[0-9]/.test(out)) out = `_${out}`;
  return out === '' ? '_' : out;
}
