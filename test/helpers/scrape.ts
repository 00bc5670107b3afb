/**
 * Reading an endpoint's automatic metrics the way its users do: a real HTTP GET of `/metrics`,
 * parsed strictly. Tests assert on this rather than on the recorder's fields, so what they prove is
 * what a Prometheus would see.
 */
import { ERROR_TYPES, type ErrorType } from '../../src/index.ts';
import { parseExposition, sampleValue, type Family } from './exposition.ts';

/** One endpoint's automatic metrics, as one scrape showed them. */
export interface EndpointView {
  requests: number;
  requestBytes: number;
  responseBytes: number;
  inflight: number;
  durationCount: number;
  /** Every `error_type` series, 0 included. */
  errors: Record<ErrorType, number>;
  /** The sum of `errors`. */
  errorTotal: number;
}

/** GET `/metrics` on the status server at `port` (loopback) and parse it; a non-200 answer throws. */
export async function scrape(port: number): Promise<Map<string, Family>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${text.slice(0, 200)}`);
  return parseExposition(text);
}

/** The automatic metrics of the endpoint whose labels include `labels` (e.g. `{ dynamo_endpoint: 'echo' }`). */
export function endpointView(families: Map<string, Family>, labels: Record<string, string>): EndpointView {
  const value = (name: string, extra: Record<string, string> = {}, sample = name): number => sampleValue(families, name, sample, { ...labels, ...extra });
  const errors = Object.fromEntries(ERROR_TYPES.map((t) => [t, value('dynamo_component_errors_total', { error_type: t })])) as Record<ErrorType, number>;
  return {
    requests: value('dynamo_component_requests_total'),
    requestBytes: value('dynamo_component_request_bytes_total'),
    responseBytes: value('dynamo_component_response_bytes_total'),
    inflight: value('dynamo_component_inflight_requests'),
    durationCount: value('dynamo_component_request_duration_seconds', {}, 'dynamo_component_request_duration_seconds_count'),
    errors,
    errorTotal: Object.values(errors).reduce((a, b) => a + b, 0),
  };
}

/** `scrape` then `endpointView`: one endpoint's metrics, now. */
export async function scrapeEndpoint(port: number, labels: Record<string, string>): Promise<EndpointView> {
  return endpointView(await scrape(port), labels);
}

/** Status-server env for a test runtime: on, loopback, a free port (read it back from `runtime.systemPort`). */
export const STATUS_SERVER_ENV = { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' } as const;
