/**
 * The hot path. One `EndpointRecorder` per endpoint holds its automatic metrics as plain numbers;
 * recording a request is a handful of additions and one short bucket scan — no attribute hashing,
 * no map lookup, no allocation. OpenTelemetry reads these numbers at collection time through
 * `EndpointMetricsProducer` (a standard SDK `MetricProducer`), so the data still leaves as
 * ordinary OTel metric data to every reader: Prometheus pull and OTLP push alike.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import type { Logger } from '../logging/logger.ts';
import { BucketExemplars, type ExemplarTrace } from './exemplars.ts';
import { ERROR_TYPES, ErrorType, Label } from './names.ts';

const ERROR_INDEX: Readonly<Record<ErrorType, number>> = Object.freeze(
  Object.fromEntries(ERROR_TYPES.map((t, i) => [t, i])) as Record<ErrorType, number>,
);

const now = (): number => performance.now();
/** `performance.timeOrigin` is a getter: read once, exemplar timestamps are then one addition. */
const TIME_ORIGIN = performance.timeOrigin;

/** One endpoint's automatic metrics as plain numbers, updated on the request path and read at collection. */
export class EndpointRecorder {
  /** `dynamo_namespace`, `dynamo_component`, `dynamo_endpoint` and the user's constant labels. */
  readonly attributes: Attributes;
  /** One frozen attribute set per `error_type`, in `ERROR_TYPES` order. */
  readonly errorAttributes: readonly Attributes[];
  /** The duration histogram's bucket upper bounds, in seconds. */
  readonly bounds: Float64Array;
  /** Non-cumulative, `bounds.length + 1` buckets, the last one is +Inf. */
  readonly bucketCounts: Float64Array;
  /** `dynamo_component_errors_total` by `error_type`, in `ERROR_TYPES` order. */
  readonly errors: Float64Array = new Float64Array(ERROR_TYPES.length);
  /** `dynamo_component_requests_total`. */
  requests = 0;
  /** `dynamo_component_request_bytes_total`. */
  requestBytes = 0;
  /** `dynamo_component_response_bytes_total`. */
  responseBytes = 0;
  /** `dynamo_component_inflight_requests`. */
  inflight = 0;
  /** `dynamo_component_concurrency_limit`: the endpoint's `maxConcurrency`, 0 for none. */
  concurrencyLimit = 0;
  /** `dynamo_component_rejected_requests_total`: refused at the concurrency limit. */
  rejected = 0;
  /** The duration histogram's sum, in seconds. */
  durationSum = 0;
  /** The duration histogram's count. */
  durationCount = 0;
  /** The shortest duration recorded, in seconds. */
  durationMin = Infinity;
  /** The longest duration recorded, in seconds. */
  durationMax = -Infinity;
  /** The duration histogram's exemplars: per bucket, the last request whose span was sampled. */
  readonly durationExemplars: BucketExemplars;
  /** Also receives every duration, when the metrics go through a provider we do not own (see api-bridge.ts). */
  durationSink: ((seconds: number) => void) | undefined = undefined;
  /** Start of the cumulative series, set when the endpoint starts serving. */
  startTime: HrTime = hrTime();
  private readonly logger: Logger;

  constructor(attributes: Attributes, buckets: readonly number[], logger: Logger) {
    this.attributes = Object.freeze({ ...attributes });
    this.errorAttributes = Object.freeze(
      ERROR_TYPES.map((type) => Object.freeze({ ...attributes, [Label.ErrorType]: type })),
    );
    this.bounds = Float64Array.from(buckets);
    this.bucketCounts = new Float64Array(buckets.length + 1);
    this.durationExemplars = new BucketExemplars(buckets.length + 1);
    this.logger = logger;
  }

  /** A request was taken off the wire. Returns the start mark to hand back to `requestEnded`. */
  requestStarted(requestBytes: number): number {
    this.requests++;
    this.requestBytes += requestBytes;
    this.inflight++;
    return now();
  }

  /** A response message (data or end-of-stream) of `bytes` payload bytes was published. */
  responsePublished(bytes: number): void {
    this.responseBytes += bytes;
  }

  /** Counts one error of `type`. */
  error(type: ErrorType): void {
    const index = ERROR_INDEX[type];
    if (index === undefined) {
      this.logger.once(`error-type:${String(type)}`, 'warn', 'unknown error_type dropped', { error_type: String(type) });
      return;
    }
    this.errors[index]!++;
  }

  /**
   * The request is over (last response or error published). The caller calls this exactly once
   * per `requestStarted`; the guard keeps in-flight from going negative if that is ever broken.
   */
  requestEnded(startMark: number, trace?: ExemplarTrace): void {
    if (this.inflight <= 0) {
      this.logger.once('inflight-underflow', 'warn', 'requestEnded called more often than requestStarted; ignored');
      return;
    }
    this.inflight--;
    const end = now();
    const seconds = (end - startMark) / 1000;
    const bucket = this.observeDuration(seconds);
    // A sampled request leaves its trace in the bucket it was counted in; the rest pay nothing.
    if (trace !== undefined) this.durationExemplars.offer(bucket, seconds, TIME_ORIGIN + end, trace);
  }

  /** A request refused at the concurrency limit: not a request served, not an error. */
  requestRefused(): void {
    this.rejected++;
  }

  /** Records one duration in seconds into the histogram; returns the index of the bucket it was counted in. */
  observeDuration(seconds: number): number {
    if (!(seconds >= 0)) seconds = 0; // NaN or a clock step backwards: count it, in the first bucket
    const bounds = this.bounds;
    const n = bounds.length;
    let i = 0;
    while (i < n && seconds > bounds[i]!) i++;
    this.bucketCounts[i]!++;
    this.durationSum += seconds;
    this.durationCount++;
    if (seconds < this.durationMin) this.durationMin = seconds;
    if (seconds > this.durationMax) this.durationMax = seconds;
    if (this.durationSink !== undefined) this.durationSink(seconds);
    return i;
  }

  /** The errors of `type` counted so far. */
  errorCount(type: ErrorType): number {
    return this.errors[ERROR_INDEX[type]] ?? 0;
  }
}
