/**
 * Custom metrics: the factory behind `endpoint.createCounter(...)` and friends. Each metric is a
 * plain OpenTelemetry instrument on the node's meter (its instrumentation scope) of the runtime's
 * own provider — and its twin on the application's provider when the runtime registers there —,
 * its name gets the `dynamo_component_` prefix, and every measurement carries the node's
 * `dynamo_*` labels.
 * Creating the same metric twice returns the same instrument; a clash is a setup-time error.
 * Recording never throws into a handler: a bad measurement is dropped and reported once.
 */
import type { Attributes, Meter, ObservableResult as OtelObservableResult } from '@opentelemetry/api';
import { DynamoError, ErrorCode } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { AUTOMATIC_METRICS, AutomaticType, METRIC_PREFIX, RESERVED_LABELS, UptimeMetric, type AutomaticMetric } from './names.ts';
import { validateBuckets } from './buckets.ts';
import { FamilyNames, misleadingSuffix, type FamilyType } from './family-names.ts';
import { labelBinder, type LabelBinder, type Labels } from './label-binder.ts';
import { guardCallback } from './observe-guard.ts';

export type { Labels } from './label-binder.ts';

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
  /** Distinct label sets kept before the rest share an overflow series (`otel.metric.overflow`, with this node's labels). Default: the runtime's `cardinalityLimit` (2000). */
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
  /** The same scope on the application's provider, when the runtime registers there too. */
  readonly externalMeter?: Meter | undefined;
  readonly attributes: Attributes;
}

const NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export interface CustomMetricsOptions {
  logger: Logger;
  /** Default label sets per metric before the overflow series. Default 2000. */
  cardinalityLimit?: number;
  /** How long an observable callback may take per collection, ms. Default 5000. */
  observeTimeoutMs?: number;
  /**
   * Creates an SDK instrument with room for `limit` attribute sets in the readers we own, so the
   * SDK's own limit (2000 by default, and an overflow series without our labels) never cuts in
   * before ours. Default: creates it as is.
   */
  withInstrumentLimit?: <T>(limit: number, create: () => T) => T;
}

const TYPE_OF: Readonly<Record<MetricKind, FamilyType>> = {
  [MetricKind.Counter]: 'counter',
  [MetricKind.ObservableCounter]: 'counter',
  [MetricKind.UpDownCounter]: 'gauge',
  [MetricKind.ObservableUpDownCounter]: 'gauge',
  [MetricKind.Gauge]: 'gauge',
  [MetricKind.ObservableGauge]: 'gauge',
  [MetricKind.Histogram]: 'histogram',
};

export class CustomMetricsRegistry {
  private readonly families = new Map<string, FamilySpec>();
  private readonly names = new FamilyNames();
  private readonly instruments = new Map<string, { kind: MetricKind; instrument: unknown }>();
  private readonly logger: Logger;
  private readonly cardinalityLimit: number;
  private readonly observeTimeoutMs: number;
  private readonly withInstrumentLimit: <T>(limit: number, create: () => T) => T;
  private readonly externalCallbacks: Array<() => void> = [];

  constructor(options: CustomMetricsOptions) {
    this.logger = options.logger;
    this.cardinalityLimit = options.cardinalityLimit ?? 2000;
    this.observeTimeoutMs = options.observeTimeoutMs ?? 5000;
    this.withInstrumentLimit = options.withInstrumentLimit ?? ((_limit, create) => create());
    const automatic: Array<[{ name: string; help: string; unit: string }, FamilyType]> = [
      ...AUTOMATIC_METRICS.map((m): [AutomaticMetric, FamilyType] => [m, m.type === AutomaticType.Histogram ? 'histogram' : m.type === AutomaticType.Counter ? 'counter' : 'gauge']),
      [UptimeMetric, 'gauge'],
      [{ name: 'target_info', help: 'Target metadata', unit: '' }, 'gauge'],
    ];
    for (const [spec, type] of automatic) {
      this.families.set(spec.name, { kind: 'automatic', labelNames: '', unit: spec.unit, description: spec.help });
      this.names.claim(spec.name, type);
    }
  }

  create(kind: MetricKind, scope: MetricsScope, options: MetricOptions | HistogramOptions, callback?: ObservableCallback): unknown {
    const name = fullName(kind, options?.name);
    if (typeof options.description !== 'string' || options.description.trim() === '') {
      throw new DynamoError(ErrorCode.InvalidOption, `metric ${name}: a non-empty description (help text) is required`);
    }
    const labelNames = validateLabelNames(name, options.labelNames ?? []);
    for (const label of labelNames) {
      if (label in scope.attributes) {
        throw new DynamoError(ErrorCode.InvalidLabel, `metric ${name}: label ${JSON.stringify(label)} is already a constant label of ${scope.scopeName}`);
      }
    }
    const unit = options.unit ?? '';
    const buckets = 'buckets' in options && options.buckets !== undefined ? validateBuckets(options.buckets, `metric ${name}`) : undefined;
    const spec: FamilySpec = { kind, labelNames: labelNames.join(','), unit, description: options.description };
    this.checkFamily(name, spec);
    const type = TYPE_OF[kind];
    const clash = type === undefined ? undefined : this.names.clash(name, type);
    if (clash !== undefined) {
      throw new DynamoError(
        ErrorCode.MetricConflict,
        `cannot create metric ${name}: its exposition would use the name ${clash.on}, which belongs to the metric ${clash.family}`,
      );
    }
    const suffix = type === undefined ? undefined : misleadingSuffix(name, type);
    if (suffix !== undefined) {
      throw new DynamoError(
        ErrorCode.InvalidMetricName,
        `metric name ${name} ends in ${suffix}, which Prometheus reserves for the samples of another metric type; choose a name without it`,
      );
    }

    const key = `${scope.scopeName}\n${name}`;
    const existing = this.instruments.get(key);
    if (existing !== undefined) return existing.instrument;

    const limit = options.cardinalityLimit ?? this.cardinalityLimit;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new DynamoError(ErrorCode.InvalidOption, `metric ${name}: cardinalityLimit ${String(limit)} is not valid: expected a whole number ≥ 1`);
    }
    const bind = labelBinder(name, scope.attributes, labelNames, limit, this.logger);
    const otelOptions = { description: options.description, unit };
    // Room for every label set we keep plus our overflow series (and one spare: the SDK keeps
    // limit − 1 sets before its own overflow).
    const external = scope.externalMeter;
    const meters = external === undefined ? [scope.meter] : [scope.meter, external];
    const instrument = this.withInstrumentLimit(limit + 2, () => this.build(kind, name, meters, otelOptions, bind, buckets, callback));
    this.instruments.set(key, { kind, instrument });
    this.families.set(name, spec);
    if (type !== undefined) this.names.claim(name, type);
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

  /**
   * Takes every observable callback we put on the application's provider off it (the runtime
   * shuts down). Synchronous instruments cannot be taken off; they stop receiving measurements.
   */
  unregisterExternal(): void {
    for (const undo of this.externalCallbacks.splice(0)) undo();
  }

  /** Each measurement goes to the instrument on every meter (ours, and the application's if any). */
  private build(
    kind: MetricKind,
    name: string,
    meters: readonly Meter[],
    otelOptions: { description: string; unit: string },
    bind: LabelBinder,
    buckets: number[] | undefined,
    callback: ObservableCallback | undefined,
  ): unknown {
    const logger = this.logger;
    const badValue = (value: unknown, why: string): void =>
      logger.once(`value:${name}:${why}`, 'warn', 'measurement dropped', { metric: name, value: String(value), reason: why });
    switch (kind) {
      case MetricKind.Counter: {
        const add = finite(badValue, bind, fanOut(meters.map((m) => m.createCounter(name, otelOptions)), (c, v, a) => c.add(v, a)), true);
        return Object.freeze({ name, add: (value = 1, labels?: Labels) => add(value, labels) } satisfies Counter);
      }
      case MetricKind.UpDownCounter: {
        const add = finite(badValue, bind, fanOut(meters.map((m) => m.createUpDownCounter(name, otelOptions)), (c, v, a) => c.add(v, a)));
        return Object.freeze({ name, add } satisfies UpDownCounter);
      }
      case MetricKind.Gauge: {
        const record = finite(badValue, bind, fanOut(meters.map((m) => m.createGauge(name, otelOptions)), (g, v, a) => g.record(v, a)));
        return Object.freeze({ name, record } satisfies Gauge);
      }
      case MetricKind.Histogram: {
        const histOptions = buckets === undefined ? otelOptions : { ...otelOptions, advice: { explicitBucketBoundaries: buckets } };
        const record = finite(badValue, bind, fanOut(meters.map((m) => m.createHistogram(name, histOptions)), (h, v, a) => h.record(v, a)));
        return Object.freeze({ name, record } satisfies Histogram);
      }
      case MetricKind.ObservableCounter:
      case MetricKind.ObservableUpDownCounter:
      case MetricKind.ObservableGauge: {
        if (typeof callback !== 'function') {
          throw new DynamoError(ErrorCode.InvalidOption, `metric ${name}: an observable metric needs a callback function`);
        }
        meters.forEach((meter, i) => {
          const observable =
            kind === MetricKind.ObservableCounter
              ? meter.createObservableCounter(name, otelOptions)
              : kind === MetricKind.ObservableUpDownCounter
                ? meter.createObservableUpDownCounter(name, otelOptions)
                : meter.createObservableGauge(name, otelOptions);
          const guarded = guardCallback(name, callback, (result: OtelObservableResult) => ({ observe: finite(badValue, bind, (v, a) => result.observe(v, a)) }), logger, this.observeTimeoutMs);
          observable.addCallback(guarded);
          if (i > 0) this.externalCallbacks.push(() => observable.removeCallback(guarded));
        });
        return Object.freeze({ name } satisfies Observable);
      }
      default:
        throw new DynamoError(ErrorCode.InvalidOption, `unknown metric kind ${String(kind)}`);
    }
  }
}

/** One sink for one instrument is a direct call: the common case pays for no loop. */
function fanOut<I>(instruments: readonly I[], call: (instrument: I, value: number, attributes: Attributes) => void): (value: number, attributes: Attributes) => void {
  const [only, twin] = instruments as [I, I | undefined];
  if (twin === undefined) return (value, attributes) => call(only, value, attributes);
  return (value, attributes) => {
    call(only, value, attributes);
    call(twin, value, attributes);
  };
}

function finite(
  badValue: (value: unknown, why: string) => void,
  bind: LabelBinder,
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
