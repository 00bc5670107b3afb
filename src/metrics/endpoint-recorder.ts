/**
 * The hot path. One `EndpointRecorder` per endpoint holds its automatic metrics as plain numbers;
 * recording a request is a handful of additions and short bucket scans — no attribute hashing,
 * no map lookup, no allocation. OpenTelemetry reads these numbers at collection time through
 * `EndpointMetricsProducer` (a standard SDK `MetricProducer`), so the data still leaves as
 * ordinary OTel metric data to every reader: Prometheus pull and OTLP push alike.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import type { Logger } from '../logging/logger.ts';
import { BucketExemplars, type ExemplarTrace } from './exemplars.ts';
import { HistogramRecorder } from './histogram-recorder.ts';
import type { CallSink } from './rpc-semconv.ts';
import { AUTOMATIC_METRICS, CANCEL_REASONS, CancelReason, DEFAULT_INTER_RESPONSE_BUCKETS, ERROR_TYPES, EndpointMetric, ErrorType, type AutomaticMetric, type MetricsRecorder } from './names.ts';
import { bindSeriesAttributes } from './series-attributes.ts';

const ERROR_INDEX: Readonly<Record<ErrorType, number>> = Object.freeze(
  Object.fromEntries(ERROR_TYPES.map((t, i) => [t, i])) as Record<ErrorType, number>,
);
const REASON_INDEX: Readonly<Record<CancelReason, number>> = Object.freeze(
  Object.fromEntries(CANCEL_REASONS.map((t, i) => [t, i])) as Record<CancelReason, number>,
);

const now = (): number => performance.now();

/**
 * The clock a published data message is timed by, kept by the transport that publishes it:
 * messages published within one turn of the event loop leave together, in one socket write, so
 * they may share one reading.
 */
export interface PublishClock {
  /** Reads the clock. The messages published after it in the same batch may share this reading. */
  now(): number;
  /**
   * The time of the batch the message just published leaves in: the latest reading taken for
   * that batch, else a new one. Never earlier than a reading taken before it.
   */
  batchTime(): number;
}

/** A clock without batches: every message reads the clock (for recorders fed outside the request plane). */
export const UNBATCHED_CLOCK: PublishClock = Object.freeze({ now, batchTime: now });
/** `performance.timeOrigin` is a getter: read once, exemplar timestamps are then one addition. */
const TIME_ORIGIN = performance.timeOrigin;

/** Histogram buckets of an endpoint beyond the duration's. */
export interface EndpointRecorderBuckets {
  /** Time-to-first-response buckets. Default: the duration buckets. */
  firstResponse?: readonly number[] | undefined;
  /** Inter-response gap buckets. Default `DEFAULT_INTER_RESPONSE_BUCKETS`. */
  interResponse?: readonly number[] | undefined;
}

/** One endpoint's automatic metrics as plain numbers, updated on the request path and read at collection. */
export class EndpointRecorder implements MetricsRecorder {
  readonly table: readonly AutomaticMetric<EndpointRecorder>[] = AUTOMATIC_METRICS;
  /** `dynamo_namespace`, `dynamo_component`, `dynamo_endpoint` and the user's constant labels. */
  readonly attributes: Attributes;
  /** `dynamo_component_request_duration_seconds`. */
  readonly duration: HistogramRecorder;
  /** `dynamo_component_time_to_first_response_seconds`. */
  readonly firstResponse: HistogramRecorder;
  /** `dynamo_component_inter_response_seconds`. */
  readonly interResponse: HistogramRecorder;
  /** The duration histogram's exemplars: per bucket, the last request whose span was sampled. */
  readonly durationExemplars: BucketExemplars;
  /** The time-to-first-response histogram's exemplars, likewise. */
  readonly firstResponseExemplars: BucketExemplars;
  /** `dynamo_component_errors_total` by `error_type`, in `ERROR_TYPES` order. */
  readonly errors: Float64Array = new Float64Array(ERROR_TYPES.length);
  /** `dynamo_component_cancellation_total` by `reason`, in `CANCEL_REASONS` order. */
  readonly cancellations: Float64Array = new Float64Array(CANCEL_REASONS.length);
  /** `dynamo_component_requests_total`. */
  requests = 0;
  /** `dynamo_component_request_bytes_total`. */
  requestBytes = 0;
  /** `dynamo_component_response_bytes_total`. */
  responseBytes = 0;
  /** `dynamo_component_responses_total`: data messages published. */
  responses = 0;
  /** `dynamo_component_inflight_requests`. */
  inflight = 0;
  /** `dynamo_component_concurrency_limit`: the endpoint's `maxConcurrency`, 0 for none. */
  concurrencyLimit = 0;
  /** `dynamo_component_rejected_requests_total`: refused at the concurrency limit. */
  rejected = 0;
  /** Start of the cumulative series, set when the endpoint starts serving. */
  startTime: HrTime = hrTime();
  /** Also receives every request's duration and outcome, when OpenTelemetry's RPC conventions are opted in (rpc-semconv.ts). */
  callSink: CallSink | undefined = undefined;
  private readonly series: Map<AutomaticMetric<never>, readonly Attributes[]>;
  private readonly logger: Logger;

  constructor(attributes: Attributes, buckets: readonly number[], logger: Logger, more: EndpointRecorderBuckets = {}) {
    this.attributes = Object.freeze({ ...attributes });
    this.series = bindSeriesAttributes(this.table, this.attributes);
    this.duration = new HistogramRecorder(buckets);
    this.durationExemplars = new BucketExemplars(buckets.length + 1);
    this.firstResponse = new HistogramRecorder(more.firstResponse ?? buckets);
    this.firstResponseExemplars = new BucketExemplars(this.firstResponse.bounds.length + 1);
    this.interResponse = new HistogramRecorder(more.interResponse ?? DEFAULT_INTER_RESPONSE_BUCKETS);
    this.logger = logger;
  }

  seriesAttributes(metric: AutomaticMetric<never>): readonly Attributes[] {
    return this.series.get(metric) ?? [];
  }

  /** One frozen attribute set per `error_type`, in `ERROR_TYPES` order. */
  get errorAttributes(): readonly Attributes[] {
    return this.seriesAttributes(EndpointMetric.errors);
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

  /**
   * A data message was published. `since` is the request's start mark for its first data message,
   * else the mark this returned for the previous one. The first is timed by a reading of its own
   * (the time to first response is exact); a later one by its batch's time, so the messages that
   * leave in one socket write are 0 apart, and only the first of a batch costs a clock read.
   * `trace`: the request's span, when sampled (the first response's bucket keeps it). Returns this
   * message's mark.
   */
  dataPublished(since: number, first: boolean, clock: PublishClock, trace?: ExemplarTrace): number {
    this.responses++;
    if (!first) {
      const t = clock.batchTime();
      this.interResponse.observe((t - since) / 1000);
      return t;
    }
    const t = clock.now();
    const seconds = (t - since) / 1000;
    const bucket = this.firstResponse.observe(seconds);
    if (trace !== undefined) this.firstResponseExemplars.offer(bucket, seconds, TIME_ORIGIN + t, trace);
    return t;
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

  /** A request ended early for `reason`: never also an error. */
  cancelled(reason: CancelReason): void {
    const index = REASON_INDEX[reason];
    if (index === undefined) {
      this.logger.once(`cancel-reason:${String(reason)}`, 'warn', 'unknown cancellation reason dropped', { reason: String(reason) });
      return;
    }
    this.cancellations[index]!++;
  }

  /**
   * The request is over (last response or error published); `trace`: its span, when sampled;
   * `failed`: the `error_type` it ended with, if any; `endMark`: when it ended, if the caller read
   * the clock already (the mark `dataPublished` returned for a message that also ended the stream).
   * The caller calls this exactly once per `requestStarted`; the guard keeps in-flight from going
   * negative if that is ever broken.
   */
  requestEnded(startMark: number, trace?: ExemplarTrace, failed?: ErrorType, endMark?: number): void {
    if (this.inflight <= 0) {
      this.logger.once('inflight-underflow', 'warn', 'requestEnded called more often than requestStarted; ignored');
      return;
    }
    this.inflight--;
    const end = endMark ?? now();
    const seconds = (end - startMark) / 1000;
    const bucket = this.duration.observe(seconds);
    // A sampled request leaves its trace in the bucket it was counted in; the rest pay nothing.
    if (trace !== undefined) this.durationExemplars.offer(bucket, seconds, TIME_ORIGIN + end, trace);
    if (this.callSink !== undefined) this.callSink(seconds, failed);
  }

  /** A request refused at the concurrency limit: not a request served, not an error. */
  requestRefused(): void {
    this.rejected++;
  }

  /** Records one duration in seconds into the duration histogram; returns the index of the bucket it was counted in. */
  observeDuration(seconds: number): number {
    return this.duration.observe(seconds);
  }

  /** The errors of `type` counted so far. */
  errorCount(type: ErrorType): number {
    return this.errors[ERROR_INDEX[type]] ?? 0;
  }

  /** The cancellations for `reason` counted so far. */
  cancellationCount(reason: CancelReason): number {
    return this.cancellations[REASON_INDEX[reason]] ?? 0;
  }

  /** The duration histogram's bucket upper bounds, in seconds. */
  get bounds(): Float64Array {
    return this.duration.bounds;
  }

  /** The duration histogram's non-cumulative bucket counts, the last one +Inf. */
  get bucketCounts(): Float64Array {
    return this.duration.counts;
  }

  /** The duration histogram's sum, in seconds. */
  get durationSum(): number {
    return this.duration.sum;
  }

  /** The duration histogram's count. */
  get durationCount(): number {
    return this.duration.count;
  }

  /** The shortest duration recorded, in seconds. */
  get durationMin(): number {
    return this.duration.min;
  }

  /** The longest duration recorded, in seconds. */
  get durationMax(): number {
    return this.duration.max;
  }
}
