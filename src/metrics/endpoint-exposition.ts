/**
 * The automatic endpoint metrics rendered straight into Prometheus text — the /metrics fast path.
 * It reads the same recorder numbers the `EndpointMetricsProducer` gives OTLP and other readers,
 * with the same names, label rendering and number format as the general serializer, but skips
 * building OpenTelemetry data objects: per endpoint, its label string is rendered once and cached;
 * per scrape, lines are concatenated and the event loop gets a turn every few hundred endpoints.
 */
import type { EndpointRegistry } from './endpoint-producer.ts';
import type { EndpointRecorder } from './endpoint-recorder.ts';
import { EndpointMetric } from './names.ts';
import {
  formatNumber,
  joinLabels,
  renderLabels,
  scopeLabels,
  type Families,
  type FamilySource,
  type PrometheusSerializer,
} from './prometheus-serializer.ts';

interface Rendered {
  /** `{labels}` */
  readonly braces: string;
  /** `{labels,` — before `le=` or `error_type=` */
  readonly open: string;
  readonly le: readonly string[];
  /** `{labels}` of each `error_type` series: `error_type` sorts among the user's labels, so each is rendered whole. */
  readonly errors: readonly string[];
}

/** Endpoints rendered between yields to the event loop. */
const CHUNK = 250;

const N = {
  requests: EndpointMetric.requests.name,
  requestBytes: EndpointMetric.requestBytes.name,
  responseBytes: EndpointMetric.responseBytes.name,
  errors: EndpointMetric.errors.name,
  inflight: EndpointMetric.inflight.name,
  bucket: `${EndpointMetric.duration.name}_bucket`,
  sum: `${EndpointMetric.duration.name}_sum`,
  count: `${EndpointMetric.duration.name}_count`,
} as const;

export class EndpointExposition {
  private readonly registry: EndpointRegistry;
  private readonly withScopeLabels: boolean;
  private readonly cache = new WeakMap<EndpointRecorder, Rendered>();
  /** `le="…"}` fragments, shared by endpoints with the same buckets. */
  private readonly leCache = new Map<string, readonly string[]>();

  constructor(registry: EndpointRegistry, withScopeLabels: boolean) {
    this.registry = registry;
    this.withScopeLabels = withScopeLabels;
  }

  /** A `FamilySource` for `PrometheusSerializer.serialize`. */
  source(serializer: PrometheusSerializer): FamilySource {
    return (families) => this.render(serializer, families);
  }

  private async render(serializer: PrometheusSerializer, families: Families): Promise<void> {
    const entries = this.registry.entries;
    if (entries.length === 0) return;
    const lines = (spec: { name: string; help: string }, type: 'counter' | 'gauge' | 'histogram'): string[] =>
      serializer.family(families, spec.name, type, spec.help)?.lines ?? [];
    const requests = lines(EndpointMetric.requests, 'counter');
    const requestBytes = lines(EndpointMetric.requestBytes, 'counter');
    const responseBytes = lines(EndpointMetric.responseBytes, 'counter');
    const errors = lines(EndpointMetric.errors, 'counter');
    const duration = lines(EndpointMetric.duration, 'histogram');
    const inflight = lines(EndpointMetric.inflight, 'gauge');

    for (let i = 0; i < entries.length; i++) {
      if (i > 0 && i % CHUNK === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const { scope, recorder: r } = entries[i]!;
      let rendered = this.cache.get(r);
      if (rendered === undefined) {
        rendered = this.prepare(r, this.withScopeLabels ? scopeLabels(scope.name, scope.version) : '');
        this.cache.set(r, rendered);
      }
      const { braces, open, le, errors: errorBraces } = rendered;
      requests.push(`${N.requests}${braces} ${formatNumber(r.requests)}\n`);
      requestBytes.push(`${N.requestBytes}${braces} ${formatNumber(r.requestBytes)}\n`);
      responseBytes.push(`${N.responseBytes}${braces} ${formatNumber(r.responseBytes)}\n`);
      for (let k = 0; k < r.errors.length; k++) {
        errors.push(`${N.errors}${errorBraces[k]} ${formatNumber(r.errors[k]!)}\n`);
      }
      let cumulative = 0;
      const counts = r.bucketCounts;
      for (let k = 0; k < counts.length; k++) {
        cumulative += counts[k]!;
        duration.push(`${N.bucket}${open}${le[k]} ${formatNumber(cumulative)}\n`);
      }
      duration.push(`${N.sum}${braces} ${formatNumber(r.durationSum)}\n`, `${N.count}${braces} ${formatNumber(cumulative)}\n`);
      inflight.push(`${N.inflight}${braces} ${formatNumber(r.inflight)}\n`);
    }
  }

  private prepare(r: EndpointRecorder, scoped: string): Rendered {
    const labels = joinLabels(renderLabels(r.attributes), scoped);
    const key = Array.from(r.bounds).join(',');
    let le = this.leCache.get(key);
    if (le === undefined) {
      le = [...Array.from(r.bounds, (b) => `le="${formatNumber(b)}"}`), 'le="+Inf"}'];
      this.leCache.set(key, le);
    }
    return {
      braces: labels === '' ? '' : `{${labels}}`,
      open: labels === '' ? '{' : `{${labels},`,
      le,
      errors: r.errorAttributes.map((a) => `{${joinLabels(renderLabels(a), scoped)}}`),
    };
  }
}

