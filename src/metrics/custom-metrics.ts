/**
 * Custom metrics: the factory behind `endpoint.createCounter(...)` and friends. Each metric is a
 * plain OpenTelemetry instrument on the node's meter (its instrumentation scope), its name gets
 * the `dynamo_component_` prefix, and every measurement carries the node's `dynamo_*` labels.
 * Creating the same metric twice returns the same instrument; a clash is a setup-time error.
 * Recording never throws into a handler: a bad measurement is dropped and reported once.
 */
import type { Attributes, Meter, ObservableResult as OtelObservableResult } from '@opentelemetry/api';
import { DynamoError, ErrorCode } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { EndpointMetric, METRIC_PREFIX, RESERVED_LABELS, UptimeMetric } from './names.ts';
import { validateBuckets } from './buckets.ts';

/** The kinds of custom metric, one per `create*` factory method. */
export const MetricKind = {
  /** `createCounter`. */
  Counter: 'counter',
  /** `createUpDownCounter`. */
  UpDownCounter: 'up_down_counter',
  /** `createGauge`. */
  Gauge: 'gauge',
  /** `createHistogram`. */
  Histogram: 'histogram',
  /** `createObservableCounter`. */
  ObservableCounter: 'observable_counter',
  /** `createObservableUpDownCounter`. */
  ObservableUpDownCounter: 'observable_up_down_counter',
  /** `createObservableGauge`. */
  ObservableGauge: 'observable_gauge',
} as const;
/** One of the {@link MetricKind} values. */
export type MetricKind = (typeof MetricKind)[keyof typeof MetricKind];

/** Label values of one measurement, by the names declared in `labelNames`. */
export type Labels = Readonly<Record<string, string | number | boolean>>;

/** What every custom metric is made from. */
export interface MetricOptions {
  /** Metric name; `dynamo_component_` is prepended unless present, counters get `_total` appended unless present. */
  name: string;
  /** Help text, shown as `# HELP` and as the OpenTelemetry description. Required. */
  description: string;
  /** UCUM unit (`By`, `s`, …). Default `''`. Not appended to the name: the name is the same everywhere. */
  unit?: string;
  /** Label names a measurement may carry besides the automatic `dynamo_*` ones. Default none. */
  labelNames?: readonly string[];
  /** Distinct label sets kept before the rest share an overflow series. Default: the runtime's `cardinalityLimit` (2000). */
  cardinalityLimit?: number;
}

/** A histogram's options: a metric's, and its buckets. */
export interface HistogramOptions extends MetricOptions {
  /** Explicit bucket boundaries. Default: OpenTelemetry's default boundaries. */
  buckets?: readonly number[];
}

/** A custom monotonic counter. */
export interface Counter {
  /** The full metric name. */
  readonly name: string;
  /** Adds `value` (default 1, must be ≥ 0). */
  add(value?: number, labels?: Labels): void;
}
/** A custom counter that goes up and down. */
export interface UpDownCounter {
  /** The full metric name. */
  readonly name: string;
  /** Adds `value`, which may be negative. */
  add(value: number, labels?: Labels): void;
}
/** A custom gauge. */
export interface Gauge {
  /** The full metric name. */
  readonly name: string;
  /** Sets the gauge to `value`. */
  record(value: number, labels?: Labels): void;
}
/** A custom histogram. */
export interface Histogram {
  /** The full metric name. */
  readonly name: string;
  /** Records one observation. */
  record(value: number, labels?: Labels): void;
}
/** What an observable's callback reports into. */
export interface ObservableResult {
  /** Reports the current value for one label set. */
  observe(value: number, labels?: Labels): void;
}
/** Called at each collection to observe the current values. */
export type ObservableCallback = (result: ObservableResult) => void | Promise<void>;
/** A custom observable instrument. */
export interface Observable {
  /** The full metric name. */
  readonly name: string;
}

interface FamilySpec {
  readonly kind: MetricKind | 'automatic';
  readonly labelNames: string;
  readonly unit: string;
  readonly description: string;
}

/** The node a metric is created on: its meter (scope) and its `dynamo_*` labels. */
export interface MetricsScope {
  readonly scopeName: string;
  readonly meter: Meter;
  readonly attributes: Attributes;
}

const NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class CustomMetricsRegistry {
  private readonly families = new Map<string, FamilySpec>();
  private readonly instruments = new Map<string, { kind: MetricKind; instrument: unknown }>();
  private readonly logger: Logger;
  private readonly cardinalityLimit: number;

  constructor(logger: Logger, cardinalityLimit = 2000) {
    this.logger = logger;
    this.cardinalityLimit = cardinalityLimit;
    for (const spec of [...Object.values(EndpointMetric), UptimeMetric]) {
      this.families.set(spec.name, { kind: 'automatic', labelNames: '', unit: spec.unit, description: spec.help });
    }
  }

  create(kind: MetricKind, scope: MetricsScope, options: MetricOptions | HistogramOptions, callback?: ObservableCallback): unknown {
    const name = fullName(kind, options?.name);
    if (typeof options.description !== 'string' || options.description.trim() === '') {
      throw new DynamoError(ErrorCode.InvalidOption, `metric ${name}: a non-empty description (help text) is required`);
    }
    const labelNames = validateLabelNames(name, options.labelNames ?? []);
    const unit = options.unit ?? '';
    const buckets = 'buckets' in options && options.buckets !== undefined ? validateBuckets(options.buckets, `metric ${name}`) : undefined;
    const spec: FamilySpec = { kind, labelNames: labelNames.join(','), unit, description: options.description };
    this.checkFamily(name, spec);

    const key = `${scope.scopeName}\n${name}`;
    const existing = this.instruments.get(key);
    if (existing !== undefined) return existing.instrument;

    const limit = options.cardinalityLimit ?? this.cardinalityLimit;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new DynamoError(ErrorCode.InvalidOption, `metric ${name}: cardinalityLimit ${String(limit)} is not valid: expected a whole number ≥ 1`);
    }
    const bind = labelBinder(name, scope.attributes, labelNames, limit, this.logger);
    const otelOptions = { description: options.description, unit };
    const instrument = this.build(kind, name, scope.meter, otelOptions, bind, buckets, callback);
    this.instruments.set(key, { kind, instrument });
    this.families.set(name, spec);
    return instrument;
  }

  private checkFamily(name: string, spec: FamilySpec): void {
    const prior = this.families.get(name);
    if (prior === undefined) return;
    const clash =
      prior.kind === 'automatic'
        ? 'it is one of the automatic endpoint metrics'
        : prior.kind !== spec.kind
          ? `it already exists as a ${prior.kind}, not a ${spec.kind}`
          : prior.labelNames !== spec.labelNames
            ? `it already exists with labels [${prior.labelNames}], not [${spec.labelNames}]`
            : prior.unit !== spec.unit
              ? `it already exists with unit ${JSON.stringify(prior.unit)}, not ${JSON.stringify(spec.unit)}`
              : prior.description !== spec.description
                ? `it already exists with description ${JSON.stringify(prior.description)}`
                : undefined;
    if (clash !== undefined) throw new DynamoError(ErrorCode.MetricConflict, `cannot create metric ${name}: ${clash}`);
  }

  private build(
    kind: MetricKind,
    name: string,
    meter: Meter,
    otelOptions: { description: string; unit: string },
    bind: (labels: Labels | undefined) => Attributes | undefined,
    buckets: number[] | undefined,
    callback: ObservableCallback | undefined,
  ): unknown {
    const logger = this.logger;
    const badValue = (value: unknown, why: string): void =>
      logger.once(`value:${name}:${why}`, 'warn', 'measurement dropped', { metric: name, value: String(value), reason: why });
    switch (kind) {
      case MetricKind.Counter: {
        const counter = meter.createCounter(name, otelOptions);
        const add = finite(badValue, bind, (v, a) => counter.add(v, a), true);
        return Object.freeze({ name, add: (value = 1, labels?: Labels) => add(value, labels) } satisfies Counter);
      }
      case MetricKind.UpDownCounter: {
        const counter = meter.createUpDownCounter(name, otelOptions);
        return Object.freeze({ name, add: finite(badValue, bind, (v, a) => counter.add(v, a)) } satisfies UpDownCounter);
      }
      case MetricKind.Gauge: {
        const gauge = meter.createGauge(name, otelOptions);
        return Object.freeze({ name, record: finite(badValue, bind, (v, a) => gauge.record(v, a)) } satisfies Gauge);
      }
      case MetricKind.Histogram: {
        const histogram = meter.createHistogram(name, buckets === undefined ? otelOptions : { ...otelOptions, advice: { explicitBucketBoundaries: buckets } });
        return Object.freeze({ name, record: finite(badValue, bind, (v, a) => histogram.record(v, a)) } satisfies Histogram);
      }
      case MetricKind.ObservableCounter:
      case MetricKind.ObservableUpDownCounter:
      case MetricKind.ObservableGauge: {
        if (typeof callback !== 'function') {
          throw new DynamoError(ErrorCode.InvalidOption, `metric ${name}: an observable metric needs a callback function`);
        }
        const observable =
          kind === MetricKind.ObservableCounter
            ? meter.createObservableCounter(name, otelOptions)
            : kind === MetricKind.ObservableUpDownCounter
              ? meter.createObservableUpDownCounter(name, otelOptions)
              : meter.createObservableGauge(name, otelOptions);
        observable.addCallback((result: OtelObservableResult) =>
          callback({
            observe: finite(badValue, bind, (v, a) => result.observe(v, a)),
          }),
        );
        return Object.freeze({ name } satisfies Observable);
      }
      default:
        throw new DynamoError(ErrorCode.InvalidOption, `unknown metric kind ${String(kind)}`);
    }
  }
}

function finite(
  badValue: (value: unknown, why: string) => void,
  bind: (labels: Labels | undefined) => Attributes | undefined,
  sink: (value: number, attrs: Attributes) => void,
  nonNegative = false,
): (value: number, labels?: Labels) => void {
  return (value, labels) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) return badValue(value, 'not a finite number');
    if (nonNegative && value < 0) return badValue(value, 'a counter only goes up');
    const attrs = bind(labels);
    if (attrs !== undefined) sink(value, attrs);
  };
}

/** The label a capped metric's overflow series carries, as OpenTelemetry names it. */
export const OVERFLOW_LABEL = 'otel_metric_overflow';

/**
 * Returns a function giving the attribute set of one measurement: the node's frozen `dynamo_*`
 * set when there are no labels, else the set made the first time those label values were seen
 * (kept, so a repeated label set allocates nothing). Undeclared labels drop the measurement.
 * At most `limit` label sets are kept: past that, measurements go to one overflow series
 * (`otel_metric_overflow="true"`) and a warning says so once — memory stays bounded however
 * many distinct values a label takes.
 */
function labelBinder(name: string, base: Attributes, labelNames: readonly string[], limit: number, logger: Logger) {
  const allowed = new Set(labelNames);
  const known = new Map<string, Attributes>();
  const overflow: Attributes = Object.freeze({ ...base, [OVERFLOW_LABEL]: 'true' });
  return (labels: Labels | undefined): Attributes | undefined => {
    if (labels === undefined) return base;
    let key = '';
    for (const label in labels) {
      if (!allowed.has(label)) {
        logger.once(`label:${name}:${label}`, 'warn', 'measurement dropped: label not declared in labelNames', { metric: name, label });
        return undefined;
      }
    }
    for (let i = 0; i < labelNames.length; i++) key += `${String(labels[labelNames[i]!] ?? '')}\u0000`;
    const attrs = known.get(key);
    if (attrs !== undefined) return attrs;
    if (known.size >= limit) {
      logger.once(`cardinality:${name}`, 'warn', 'cardinality limit reached: further label sets are counted in one overflow series', {
        metric: name,
        limit,
        overflow_label: `${OVERFLOW_LABEL}="true"`,
      });
      return overflow;
    }
    const made: Attributes = Object.freeze({ ...base, ...labels });
    known.set(key, made);
    return made;
  };
}

export function fullName(kind: MetricKind, name: unknown): string {
  if (typeof name !== 'string' || name === '') {
    throw new DynamoError(ErrorCode.InvalidMetricName, 'metric name must be a non-empty string');
  }
  let full = name.startsWith(METRIC_PREFIX) ? name : METRIC_PREFIX + name;
  if ((kind === MetricKind.Counter || kind === MetricKind.ObservableCounter) && !full.endsWith('_total')) full += '_total';
  if (!NAME_RE.test(full) || full.length > 255) {
    const bad = [...name].find((c) => !/[a-zA-Z0-9_]/.test(c));
    throw new DynamoError(
      ErrorCode.InvalidMetricName,
      bad !== undefined
        ? `metric name ${JSON.stringify(name)} has the character ${JSON.stringify(bad)}; only letters, digits and '_' are allowed`
        : `metric name ${JSON.stringify(name)} is not valid: at most 255 characters, letters, digits and '_'`,
    );
  }
  return full;
}

export function validateLabelNames(metric: string, labelNames: readonly string[]): string[] {
  if (!Array.isArray(labelNames)) throw new DynamoError(ErrorCode.InvalidLabel, `metric ${metric}: labelNames must be an array of strings`);
  const seen = new Set<string>();
  for (const label of labelNames) {
    validateLabelName(label, `metric ${metric}`);
    if (seen.has(label)) throw new DynamoError(ErrorCode.InvalidLabel, `metric ${metric}: label ${JSON.stringify(label)} is listed twice`);
    seen.add(label);
  }
  return [...seen].sort();
}

export function validateLabelName(label: unknown, where: string): void {
  if (typeof label !== 'string' || !LABEL_RE.test(label) || label.startsWith('__')) {
    throw new DynamoError(
      ErrorCode.InvalidLabel,
      `${where}: label name ${JSON.stringify(label)} is not valid: letters, digits and '_', not starting with a digit or '__'`,
    );
  }
  if (RESERVED_LABELS.has(label)) {
    throw new DynamoError(ErrorCode.InvalidLabel, `${where}: label name ${JSON.stringify(label)} is reserved (${[...RESERVED_LABELS].join(', ')})`);
  }
}
