import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { serializeResourceMetrics } from '../../src/metrics/prometheus-serializer.ts';
import { countTurns, perTurn } from '../helpers/event-loop.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { promtoolCheck } from '../helpers/tools.ts';

const t0: [number, number] = [1_700_000_000, 0];
const t1: [number, number] = [1_700_000_010, 0];

function counter(name: string, help: string, points: Array<[Record<string, string>, number]>, isMonotonic = true): MetricData {
  return {
    descriptor: { name, description: help, unit: '', valueType: ValueType.INT },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic,
    dataPoints: points.map(([attributes, value]) => ({ startTime: t0, endTime: t1, attributes, value })),
  };
}

function histogram(name: string, help: string, attributes: Record<string, string>, boundaries: number[], counts: number[], sum: number): MetricData {
  return {
    descriptor: { name, description: help, unit: 's', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints: [{ startTime: t0, endTime: t1, attributes, value: { buckets: { boundaries, counts }, sum, count: counts.reduce((a, b) => a + b, 0) } }],
  };
}

const ep = (endpoint: string) => ({ dynamo_namespace: 'ns', dynamo_component: 'comp', dynamo_endpoint: endpoint });

function fixture(): ResourceMetrics {
  return {
    resource: resourceFromAttributes({ 'service.name': 'svc', 'service.instance.id': 'i-1' }),
    scopeMetrics: [
      {
        scope: { name: 'dynamo/ns/comp/a', version: '0.1.0' },
        metrics: [
          counter('dynamo_component_requests_total', 'Total number of requests processed by component endpoint', [[ep('a'), 3]]),
          histogram('dynamo_component_request_duration_seconds', 'Time spent processing requests by component endpoint', ep('a'), [0.1, 1], [2, 0, 1], 1.5),
          counter('dynamo_component_inflight_requests', 'Number of requests currently being processed by component endpoint', [[ep('a'), 2]], false),
        ],
      },
      {
        scope: { name: 'dynamo/ns/comp/b', version: '0.1.0' },
        metrics: [counter('dynamo_component_requests_total', 'Total number of requests processed by component endpoint', [[ep('b'), 7]])],
      },
    ],
  };
}

const A = 'dynamo_component="comp",dynamo_endpoint="a",dynamo_namespace="ns"';
const B = 'dynamo_component="comp",dynamo_endpoint="b",dynamo_namespace="ns"';

describe('serializeResourceMetrics', () => {
  it('renders the fixture exactly: one HELP/TYPE per family across scopes, sorted labels, cumulative buckets', async () => {
    const text = await serializeResourceMetrics(fixture());
    assert.equal(
      text,
      [
        '# HELP target_info Target metadata',
        '# TYPE target_info gauge',
        'target_info{service_instance_id="i-1",service_name="svc"} 1',
        '',
        '# HELP dynamo_component_inflight_requests Number of requests currently being processed by component endpoint',
        '# TYPE dynamo_component_inflight_requests gauge',
        `dynamo_component_inflight_requests{${A}} 2`,
        '',
        '# HELP dynamo_component_request_duration_seconds Time spent processing requests by component endpoint',
        '# TYPE dynamo_component_request_duration_seconds histogram',
        `dynamo_component_request_duration_seconds_bucket{${A},le="0.1"} 2`,
        `dynamo_component_request_duration_seconds_bucket{${A},le="1"} 2`,
        `dynamo_component_request_duration_seconds_bucket{${A},le="+Inf"} 3`,
        `dynamo_component_request_duration_seconds_sum{${A}} 1.5`,
        `dynamo_component_request_duration_seconds_count{${A}} 3`,
        '',
        '# HELP dynamo_component_requests_total Total number of requests processed by component endpoint',
        '# TYPE dynamo_component_requests_total counter',
        `dynamo_component_requests_total{${A}} 3`,
        `dynamo_component_requests_total{${B}} 7`,
        '',
      ].join('\n'),
    );
    const families = parseExposition(text);
    assert.deepEqual([...families.keys()], [
      'target_info',
      'dynamo_component_inflight_requests',
      'dynamo_component_request_duration_seconds',
      'dynamo_component_requests_total',
    ]);
    assert.equal(sampleValue(families, 'dynamo_component_requests_total', 'dynamo_component_requests_total', { dynamo_endpoint: 'b' }), 7);
    assert.equal(promtoolCheck(text).status, 0, promtoolCheck(text).output);
  });

  it('adds otel_scope_* labels only when asked', async () => {
    const text = await serializeResourceMetrics(fixture(), { withScopeLabels: true, withTargetInfo: false });
    assert.ok(text.includes(`dynamo_component_requests_total{${B},otel_scope_name="dynamo/ns/comp/b",otel_scope_version="0.1.0"} 7\n`), text);
    assert.ok(!text.includes('target_info'));
    const plain = await serializeResourceMetrics(fixture());
    assert.ok(!plain.includes('otel_scope'));
  });

  it('escapes label values (quote, backslash, newline) and keeps unicode; escapes HELP', async () => {
    const nasty = 'a "quoted" \\ back\nslash — ünïcødé 🚀';
    const text = await serializeResourceMetrics(
      {
        resource: resourceFromAttributes({}),
        scopeMetrics: [{ scope: { name: 's' }, metrics: [counter('weird_total', 'line one\nline \\ two', [[{ v: nasty }, 1]])] }],
      },
      { withTargetInfo: false },
    );
    assert.equal(
      text,
      '# HELP weird_total line one\\nline \\\\ two\n# TYPE weird_total counter\nweird_total{v="a \\"quoted\\" \\\\ back\\nslash — ünïcødé 🚀"} 1\n',
    );
    const families = parseExposition(text);
    assert.equal(families.get('weird_total')!.samples[0]!.labels['v'], nasty);
    assert.equal(families.get('weird_total')!.help, 'line one\nline \\ two');
    assert.equal(promtoolCheck(text).status, 0, promtoolCheck(text).output);
  });

  it('sanitizes names, appends _total to monotonic sums, merges colliding label keys, renders special values', async () => {
    const text = await serializeResourceMetrics(
      {
        resource: resourceFromAttributes({}),
        scopeMetrics: [
          {
            scope: { name: 's' },
            metrics: [
              counter('http.server.requests', 'reqs', [[{ 'a.b': 'x', a_b: 'y', '9lives': 'z' }, 5]]),
              counter('temp', 'temperature', [[{}, NaN]], false),
              counter('edge', 'edge', [[{ k: '1' }, Infinity], [{ k: '2' }, -Infinity], [{ k: '3' }, 1e21], [{ k: '4' }, 0.1 + 0.2]], false),
            ],
          },
        ],
      },
      { withTargetInfo: false },
    );
    assert.ok(text.includes('# TYPE http_server_requests_total counter\nhttp_server_requests_total{_9lives="z",a_b="x;y"} 5\n'), text);
    assert.ok(text.includes('temp NaN\n'));
    assert.ok(text.includes('edge{k="1"} +Inf\nedge{k="2"} -Inf\nedge{k="3"} 1e+21\nedge{k="4"} 0.30000000000000004\n'), text);
    assert.equal(promtoolCheck(text).status, 0, promtoolCheck(text).output);
  });

  it('leaves out a metric whose name is already taken by another type, keeping the exposition valid', async () => {
    const text = await serializeResourceMetrics(
      {
        resource: resourceFromAttributes({}),
        scopeMetrics: [
          { scope: { name: 'a' }, metrics: [counter('clash_total', 'first', [[{ s: 'a' }, 1]])] },
          { scope: { name: 'b' }, metrics: [counter('clash_total', 'second', [[{ s: 'b' }, 2]], false)] },
        ],
      },
      { withTargetInfo: false },
    );
    assert.equal(text, '# HELP clash_total first\n# TYPE clash_total counter\nclash_total{s="a"} 1\n');
  });

  it('yields to the event loop every `yieldEvery` points on long outputs and still renders every point', async () => {
    // Each point's attributes note the turn in which the serializer reads them (once: label
    // strings are cached per attribute set): how many points share a turn, counted exactly.
    const turns = countTurns();
    const renderedIn: number[] = [];
    const watched = (j: number): Record<string, string> =>
      Object.defineProperty({}, 'j', {
        enumerable: true,
        get: () => {
          renderedIn.push(turns.now);
          return String(j);
        },
      });
    const metrics = Array.from({ length: 50 }, (_, i) => counter(`m${i}_total`, 'h', Array.from({ length: 100 }, (_, j) => [watched(j), j] as [Record<string, string>, number])));
    let text: string;
    try {
      text = await serializeResourceMetrics({ resource: resourceFromAttributes({}), scopeMetrics: [{ scope: { name: 's' }, metrics }] }, { yieldEvery: 500, withTargetInfo: false });
    } finally {
      turns.stop();
    }
    const families = parseExposition(text);
    assert.equal(families.size, 50);
    assert.equal([...families.values()].reduce((n, f) => n + f.samples.length, 0), 5000);
    assert.equal(renderedIn.length, 5000);
    assert.deepEqual(perTurn(renderedIn), Array.from({ length: 10 }, () => 500));
  });
});
