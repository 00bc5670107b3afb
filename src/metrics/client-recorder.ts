/**
 * The caller's side of the hot path: one `ClientRecorder` per target endpoint per runtime, shared
 * by every `EndpointClient` of that endpoint, holds what the callers saw as plain numbers — the
 * same discipline as `EndpointRecorder`, read by the same exposition, producer and API bridge.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import type { Logger } from '../logging/logger.ts';
import { CLIENT_ERROR_CODES, CLIENT_ERROR_TYPES, CLIENT_METRICS, type ClientErrorType } from './client-names.ts';
import { HistogramRecorder } from './histogram-recorder.ts';
import type { CallSink } from './rpc-semconv.ts';
import type { AutomaticMetric, MetricsRecorder } from './names.ts';
import { bindSeriesAttributes } from './series-attributes.ts';

const ERROR_INDEX: Readonly<Record<ClientErrorType, number>> = Object.freeze(
  Object.fromEntries(CLIENT_ERROR_TYPES.map((t, i) => [t, i])) as Record<ClientErrorType, number>,
);

const now = (): number => performance.now();

/** What the callers of one endpoint saw, as plain numbers. */
export class ClientRecorder implements MetricsRecorder {
  readonly table: readonly AutomaticMetric<ClientRecorder>[] = CLIENT_METRICS;
  /** The target endpoint's `dynamo_*` (and constant) labels. */
  readonly attributes: Attributes;
  /** `dynamo_client_request_duration_seconds`. */
  readonly duration: HistogramRecorder;
  /** `dynamo_client_time_to_first_response_seconds`. */
  readonly firstResponse: HistogramRecorder;
  /** `dynamo_client_errors_total` by `error_type`, in `CLIENT_ERROR_TYPES` order. */
  readonly errors: Float64Array = new Float64Array(CLIENT_ERROR_TYPES.length);
  /** `dynamo_client_requests_total`. */
  requests = 0;
  /** `dynamo_client_request_bytes_total`. */
  requestBytes = 0;
  /** `dynamo_client_response_bytes_total`. */
  responseBytes = 0;
  /** `dynamo_client_inflight_requests`. */
  inflight = 0;
  /** Start of the cumulative series: when the first client of the endpoint was made. */
  startTime: HrTime = hrTime();
  /** Also receives every request's duration and outcome, when OpenTelemetry's RPC conventions are opted in (rpc-semconv.ts). */
  callSink: CallSink | undefined = undefined;
  private readonly series: Map<AutomaticMetric<never>, readonly Attributes[]>;
  private readonly logger: Logger;

  constructor(attributes: Attributes, buckets: readonly number[], logger: Logger) {
    this.attributes = Object.freeze({ ...attributes });
    this.series = bindSeriesAttributes(this.table, this.attributes);
    this.duration = new HistogramRecorder(buckets);
    this.firstResponse = new HistogramRecorder(buckets);
    this.logger = logger;
  }

  seriesAttributes(metric: AutomaticMetric<never>): readonly Attributes[] {
    return this.series.get(metric) ?? [];
  }

  /** A request is being sent. Returns the start mark the other calls take. */
  requestStarted(): number {
    this.requests++;
    this.inflight++;
    return now();
  }

  /** The request's `bytes` payload bytes went out. */
  requestSent(bytes: number): void {
    this.requestBytes += bytes;
  }

  /**
   * A response message of `bytes` payload bytes was taken; `firstData` for the stream's first data
   * message. Returns the mark of its arrival when it read the clock for it (the first data message),
   * else undefined.
   */
  responseReceived(bytes: number, firstData: boolean, startMark: number): number | undefined {
    this.responseBytes += bytes;
    if (!firstData) return undefined;
    const t = now();
    this.firstResponse.observe((t - startMark) / 1000);
    return t;
  }

  /**
   * The request is over: its end-of-stream or error message arrived, or it failed on this side.
   * Called exactly once per `requestStarted`; `failure` is what the caller's iteration failed with;
   * `endMark`, when the message that ended the stream was also its first response (a `last`
   * message): the mark `responseReceived` returned for it, so the clock is not read again.
   */
  requestEnded(startMark: number, failure: unknown, endMark?: number): void {
    if (this.inflight <= 0) {
      this.logger.once('client-inflight-underflow', 'warn', 'client requestEnded called more often than requestStarted; ignored');
      return;
    }
    this.inflight--;
    const seconds = ((endMark ?? now()) - startMark) / 1000;
    this.duration.observe(seconds);
    const type = failure === undefined ? undefined : this.failed(failure);
    if (this.callSink !== undefined) this.callSink(seconds, failure === undefined ? undefined : type ?? '_OTHER');
  }

  /** Counts `failure` under the `error_type` of its code and returns it; anything else is dropped with one warning. */
  failed(failure: unknown): ClientErrorType | undefined {
    const code = (failure as { code?: unknown } | null)?.code;
    const type = typeof code === 'string' ? CLIENT_ERROR_CODES[code] : undefined;
    if (type === undefined) {
      this.logger.once(`client-error:${String(code)}`, 'warn', 'client failure without a client error code not counted', { code: String(code) });
      return undefined;
    }
    this.errors[ERROR_INDEX[type]]!++;
    return type;
  }

  /** The failures of `type` counted so far. */
  errorCount(type: ClientErrorType): number {
    return this.errors[ERROR_INDEX[type]] ?? 0;
  }
}
