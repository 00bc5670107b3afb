/** What a runtime's /metrics says, read the way a scraper reads it (parsed exposition, exact values). */
import type { DistributedRuntime } from '../../src/index.ts';
import { ERROR_TYPES } from '../../src/index.ts';
import { parseExposition, sampleValue } from './exposition.ts';

/** `dynamo_component_requests_total` of one endpoint (by its `dynamo_endpoint` label). */
export async function requestsOf(rt: DistributedRuntime, endpoint: string): Promise<number> {
  return sampleValue(parseExposition(await rt.metricsText()), 'dynamo_component_requests_total', 'dynamo_component_requests_total', { dynamo_endpoint: endpoint });
}

/** `dynamo_component_errors_total` of one endpoint, one value per `error_type`, in `ERROR_TYPES` order. */
export async function errorsOf(rt: DistributedRuntime, endpoint: string): Promise<number[]> {
  const families = parseExposition(await rt.metricsText());
  return ERROR_TYPES.map((t) => sampleValue(families, 'dynamo_component_errors_total', 'dynamo_component_errors_total', { dynamo_endpoint: endpoint, error_type: t }));
}
