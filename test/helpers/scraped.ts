/**
 * What a runtime's /metrics says about one endpoint, read the way a scraper reads it (the
 * runtime's exposition, parsed strictly) — for tests whose runtime has no status server.
 */
import type { DistributedRuntime } from '../../src/index.ts';
import { ERROR_TYPES } from '../../src/index.ts';
import { parseExposition } from './exposition.ts';
import { endpointView, type EndpointView } from './scrape.ts';

/** The automatic metrics of the endpoint labelled `dynamo_endpoint="<endpoint>"`, now. */
export async function viewOf(rt: DistributedRuntime, endpoint: string): Promise<EndpointView> {
  return endpointView(parseExposition(await rt.metricsText()), { dynamo_endpoint: endpoint });
}

/** `dynamo_component_requests_total` of one endpoint. */
export async function requestsOf(rt: DistributedRuntime, endpoint: string): Promise<number> {
  return (await viewOf(rt, endpoint)).requests;
}

/** `dynamo_component_errors_total` of one endpoint, one value per `error_type`, in `ERROR_TYPES` order. */
export async function errorsOf(rt: DistributedRuntime, endpoint: string): Promise<number[]> {
  const { errors } = await viewOf(rt, endpoint);
  return ERROR_TYPES.map((t) => errors[t]);
}
