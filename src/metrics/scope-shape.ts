/**
 * The last step before any reader's data leaves us: one `ScopeMetrics` per instrumentation scope
 * (an endpoint's automatic metrics come from our producer, its custom ones from the SDK: two
 * entries with one scope until merged here), and nothing of a retired scope (an endpoint that
 * stopped serving, after its retention).
 */
import type { ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';

export function shapeScopes(resourceMetrics: ResourceMetrics, retired: ReadonlySet<string>): ResourceMetrics {
  const byScope = new Map<string, ScopeMetrics>();
  let changed = false;
  for (const entry of resourceMetrics.scopeMetrics) {
    if (retired.has(entry.scope.name)) {
      changed = true;
      continue;
    }
    const key = `${entry.scope.name}\n${entry.scope.version ?? ''}\n${entry.scope.schemaUrl ?? ''}`;
    const prior = byScope.get(key);
    if (prior === undefined) byScope.set(key, entry);
    else {
      byScope.set(key, { scope: prior.scope, metrics: [...prior.metrics, ...entry.metrics] });
      changed = true;
    }
  }
  return changed ? { resource: resourceMetrics.resource, scopeMetrics: [...byScope.values()] } : resourceMetrics;
}
