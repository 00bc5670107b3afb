/**
 * The operations kit as the tests read it: the shipped rule files and dashboard, their PromQL, and
 * which metric families each expression reads.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const RECORDING_RULES = fileURLToPath(new URL('../../observability/prometheus/recording-rules.yml', import.meta.url));
export const ALERTING_RULES = fileURLToPath(new URL('../../observability/prometheus/alerting-rules.yml', import.meta.url));
export const DASHBOARD = fileURLToPath(new URL('../../observability/grafana/dynamo-dashboard.json', import.meta.url));
export const PROMTOOL_TESTS = fileURLToPath(new URL('./promtool/alerts.test.yml', import.meta.url));

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function rulesOf(file: string): Rule[] {
  const doc = parse(readFileSync(file, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> };
  return doc.groups.flatMap((group) => group.rules);
}

export const recordingRules = (): Rule[] => rulesOf(RECORDING_RULES);
export const alertingRules = (): Rule[] => rulesOf(ALERTING_RULES);

const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool',
  'rate', 'irate', 'increase', 'delta', 'idelta', 'histogram_quantile', 'label_replace', 'label_join', 'abs', 'clamp_min',
  'clamp_max', 'max_over_time', 'min_over_time', 'avg_over_time', 'present_over_time', 'absent', 'absent_over_time',
  'vector', 'scalar', 'time', 'changes', 'resets', 'deriv', 'round', 'sort', 'sort_desc', 'le', 'inf', 'nan',
]);

/**
 * The metric families an expression reads: identifiers outside strings, label matchers and
 * grouping lists that are not PromQL words or recorded series (`a:b:c`); histogram sample
 * suffixes folded into their family.
 */
export function familiesRead(expr: string): string[] {
  const code = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1()')
    .replace(/\[[^\]]*\]/g, '[]');
  const names = new Set<string>();
  for (const match of code.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = match[0];
    if (PROMQL_WORDS.has(name) || name.includes(':') || /^\d/.test(name)) continue;
    names.add(name.replace(/_(bucket|count|sum)$/, ''));
  }
  return [...names].sort();
}

/** Recorded series (`level:metric:operations`) an expression reads. */
export function recordedRead(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...new Set([...code.matchAll(/[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]+/g)].map((m) => m[0]))].sort();
}

/** The runtime health families as /metrics renders them (test/metrics/runtime-health.test.ts holds them to the runtime). */
export const RUNTIME_HEALTH_FAMILIES: ReadonlySet<string> = new Set([
  'nodejs_eventloop_delay_max', 'nodejs_eventloop_delay_mean', 'nodejs_eventloop_delay_min', 'nodejs_eventloop_delay_p50',
  'nodejs_eventloop_delay_p90', 'nodejs_eventloop_delay_p99', 'nodejs_eventloop_delay_stddev', 'nodejs_eventloop_time_total',
  'nodejs_eventloop_utilization', 'process_cpu_time_total', 'process_cpu_utilization', 'process_memory_usage', 'v8js_gc_duration',
  'v8js_memory_heap_space_available_size', 'v8js_memory_heap_space_physical_size', 'v8js_memory_heap_space_size',
  'v8js_memory_heap_used', 'v8js_resource_active',
]);

export interface DashboardTarget {
  refId: string;
  expr: string;
  legendFormat?: string;
  datasource?: { type?: string; uid?: string };
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
}

export interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: DashboardPanel[];
  templating: { list: Array<{ name: string; type: string; query: unknown; datasource?: { type?: string; uid?: string } }> };
}

export function dashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
}

/** Every panel, rows' nested panels included. */
export function allPanels(board: Dashboard): DashboardPanel[] {
  return board.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/** A panel's PromQL as Prometheus gets it from Grafana with every variable at "All". */
export function concreteExpr(expr: string, rateInterval = '1m'): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, rateInterval)
    .replace(/\$__interval|\$\{__interval\}/g, '15s')
    .replace(/\$\{?(namespace|component|endpoint|instance)\}?/g, '.*');
}
