import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { createLogger } from '../../src/logging/logger.ts';
import { EndpointExposition } from '../../src/metrics/endpoint-exposition.ts';
import { EndpointMetricsProducer, EndpointRegistry } from '../../src/metrics/endpoint-producer.ts';
import { DynamoError, ErrorCode } from '../../src/errors.ts';
import { ClientRecorder } from '../../src/metrics/client-recorder.ts';
import { EndpointRecorder } from '../../src/metrics/endpoint-recorder.ts';
import { ErrorType } from '../../src/metrics/names.ts';
import { PrometheusSerializer } from '../../src/metrics/prometheus-serializer.ts';
import { countTurns, perTurn } from '../helpers/event-loop.ts';
import { promtoolCheck } from '../helpers/tools.ts';

function registryWith(n: number): EndpointRegistry {
  const registry = new EndpointRegistry();
  const logger = createLogger('error', () => {});
  for (let i = 0; i < n; i++) {
    // `model` and `zone` sort after `error_type`; values need escaping
    const attrs = { dynamo_namespace: 'ns', dynamo_component: `c${i % 3}`, dynamo_endpoint: `e${i}`, model: `m"${i}\\\n`, zone: 'ü' };
    const r = new EndpointRecorder(attrs, i % 2 === 0 ? [0.1, 1] : [0.005, 0.5, 5], logger);
    for (let k = 0; k < i; k++) {
      const mark = r.requestStarted(10 * k);
      r.responsePublished(k);
      r.observeDuration(k * 0.3);
      if (k % 3 === 0) r.error(ErrorType.Generate);
      r.requestEnded(mark);
    }
    r.requestStarted(1);
    registry.add({ name: `dynamo/ns/c${i % 3}/e${i}`, version: '0.1.0' }, r);
  }
  return registry;
}

/** The same endpoints, every other one also with a caller-side recorder registered (before some endpoints: order must not matter). */
function registryWithCallers(n: number): EndpointRegistry {
  const registry = new EndpointRegistry();
  const logger = createLogger('error', () => {});
  for (const { scope, recorder } of registryWith(n).entries) {
    if (scope.name.endsWith('e3')) continue;
    const c = new ClientRecorder(recorder.attributes, scope.name.endsWith('1') ? [0.5] : [0.1, 1, 10], logger);
    for (let k = 0; k < scope.name.length % 4; k++) {
      const mark = c.requestStarted();
      c.requestSent(7 * k);
      c.responseReceived(3, true, mark);
      c.requestEnded(mark, k % 2 === 0 ? undefined : new DynamoError(ErrorCode.Timeout, 'x'));
    }
    c.requestStarted();
    registry.add({ name: `${scope.name}/client`, version: '0.1.0' }, c);
    registry.add(scope, recorder);
  }
  return registry;
}

describe('EndpointExposition (the /metrics fast path)', () => {
  for (const [withScopeLabels, callers] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    it(`renders exactly what the general serializer renders from the producer's OTel data (scope labels ${withScopeLabels ? 'on' : 'off'}${callers ? ', caller-side recorders too' : ''})`, async () => {
      const registry = callers ? registryWithCallers(7) : registryWith(7);
      const { resourceMetrics } = await new EndpointMetricsProducer(registry).collect();
      const options = { withTargetInfo: false, withScopeLabels };
      const general = await new PrometheusSerializer(options).serialize(resourceMetrics);
      const serializer = new PrometheusSerializer(options);
      const fast = await serializer.serialize({ resource: resourceFromAttributes({}), scopeMetrics: [] }, new EndpointExposition(registry, withScopeLabels).families());
      assert.equal(fast, general);
      assert.equal(promtoolCheck(fast).status, 0, promtoolCheck(fast).output);
    });
  }

  it('renders many endpoints 200 at a time, each batch in its own event-loop turn', async () => {
    const registry = registryWith(1200);
    const serializer = new PrometheusSerializer({ withTargetInfo: false });
    // The turn in which each endpoint's line of each family came out: a structural bound on how
    // long the loop is held, the same on any machine.
    const turns = countTurns();
    const turnsOf = new Map<string, number[]>();
    let text = '';
    try {
      for await (const chunk of serializer.chunks({ resource: resourceFromAttributes({}), scopeMetrics: [] }, new EndpointExposition(registry, false).families())) {
        for (const line of chunk.split('\n')) {
          const family = /^(dynamo_component_\w+?)(?:_bucket|_sum|_count)?\{.*dynamo_endpoint="e\d+"/.exec(line)?.[1];
          if (family !== undefined && !line.includes('error_type') && !line.includes('reason="') && !line.includes('le="')) turnsOf.set(family, [...(turnsOf.get(family) ?? []), turns.now]);
        }
        text += chunk;
      }
    } finally {
      turns.stop();
    }
    assert.deepEqual([...turnsOf.keys()].sort(), [
      'dynamo_component_concurrency_limit',
      'dynamo_component_inflight_requests',
      'dynamo_component_inter_response_seconds',
      'dynamo_component_rejected_requests_total',
      'dynamo_component_request_bytes_total',
      'dynamo_component_request_duration_seconds',
      'dynamo_component_requests_total',
      'dynamo_component_response_bytes_total',
      'dynamo_component_responses_total',
      'dynamo_component_time_to_first_response_seconds',
    ]);
    for (const [family, turnOfEach] of turnsOf) {
      // `_sum` and `_count` lines: two per endpoint for the histogram
      const perEndpoint = family.endsWith('_seconds') ? 2 : 1;
      assert.deepEqual(perTurn(turnOfEach), Array.from({ length: 6 }, () => 200 * perEndpoint), family);
    }
    assert.equal(text.split('\n').filter((l) => l.startsWith('dynamo_component_requests_total{')).length, 1200);
  });
});
