import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistributedRuntime, type Endpoint } from '../../src/index.ts';
import { parseExposition } from '../helpers/exposition.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { waitFor } from '../helpers/wait.ts';
import { allPanels, ALERTING_RULES, concreteExpr, dashboard, familiesRead, RECORDING_RULES, recordingRules, recordedRead, type Rule } from './kit.ts';
import { startRulesPrometheus, type RulesPrometheus } from './prometheus.ts';

const NS = 'ops';
const COMPONENT = 'worker';

/** The families a recording rule reads, through the recorded series it reads too. */
function familiesOfRule(rule: Rule, byName: Map<string, Rule>): string[] {
  const recorded = recordedRead(rule.expr).flatMap((name) => familiesOfRule(byName.get(name)!, byName));
  return [...new Set([...familiesRead(rule.expr), ...recorded])].sort();
}

/** Every family an expression reads is on some runtime's /metrics (or is Prometheus's `up`): a family missing is a mistake in the kit. */
function assertExposed(what: string, families: string[], exposed: Set<string>): void {
  assert.deepEqual(families.filter((f) => !exposed.has(f) && f !== 'up'), [], `${what} reads families no runtime exposes`);
}

async function serve(rt: DistributedRuntime): Promise<void> {
  const component = rt.namespace(NS).component(COMPONENT);
  // "bad" fails every other request (the handler throws: error_type generate); "good" never does.
  await component.endpoint('bad').serve(async function* (request: string) {
    if (request === 'fail') throw new Error('driven failure');
    yield request;
  });
  await component.endpoint('good').serve(async function* (request: string) {
    yield request;
    yield request;
  }, { maxConcurrency: 8 });
}

describe('the operations kit against a real Prometheus', () => {
  it('loads the shipped rules; errors driven into one endpoint make its burn-rate alert pending for that endpoint only; every recording rule and dashboard query returns data', async () => {
    const nats = await startNatsServer();
    const env = { NATS_SERVER: nats.url, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' };
    const options = { env, handleSignals: false as const, logSink: () => {} };
    const runtimes: DistributedRuntime[] = [];
    let prom: RulesPrometheus | undefined;
    let driving = true;
    let traffic: Promise<void> = Promise.resolve();
    try {
      // Two serving instances and one caller, each with its status server: three scrape targets.
      for (let i = 0; i < 3; i++) runtimes.push(await DistributedRuntime.create(options));
      const [first, second, caller] = runtimes as [DistributedRuntime, DistributedRuntime, DistributedRuntime];
      await serve(first);
      await serve(second);
      const endpoints: Endpoint[] = ['bad', 'good'].map((name) => caller.namespace(NS).component(COMPONENT).endpoint(name));
      const [bad, good] = await Promise.all(endpoints.map((ep) => ep.client()));
      await Promise.all([bad!.waitForInstances(), good!.waitForInstances()]);
      prom = await startRulesPrometheus(runtimes.map((rt) => `127.0.0.1:${rt.systemPort}`), [RECORDING_RULES, ALERTING_RULES]);

      // Traffic until the checks are done: "bad" half failures, "good" none.
      traffic = (async () => {
        for (let n = 0; driving; n++) {
          await bad!.generate(n % 2 === 0 ? 'fail' : 'ok').collect().catch(() => {});
          await good!.generate('ok').collect();
          if (n % 50 === 0) (globalThis as { gc?: () => void }).gc?.();
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();

      const alert = await waitFor(async () => (await prom!.alerts()).filter((a) => a.labels['alertname'] === 'DynamoEndpointErrorBudgetBurnFast'), {
        what: 'DynamoEndpointErrorBudgetBurnFast pending or firing',
        timeoutMs: 30_000,
        intervalMs: 250,
        until: (alerts) => alerts.length > 0,
      });
      assert.equal(alert.length, 1, JSON.stringify(alert));
      assert.ok(['pending', 'firing'].includes(alert[0]!.state));
      assert.deepEqual(alert[0]!.labels, { alertname: 'DynamoEndpointErrorBudgetBurnFast', severity: 'critical', dynamo_namespace: NS, dynamo_component: COMPONENT, dynamo_endpoint: 'bad' });
      assert.match(alert[0]!.annotations['summary'] ?? '', /^ops\/worker\/bad: \d+(\.\d+)?% of requests fail$/);
      assert.deepEqual((await prom.query('ALERTS{alertname="DynamoEndpointErrorBudgetBurnFast"}')).map((s) => s.metric['dynamo_endpoint']), ['bad']);
      // No endpoint alert names another endpoint ("good" is fine, whatever else a loaded machine does).
      const alerted = new Set((await prom.alerts()).flatMap((a) => (a.labels['dynamo_endpoint'] === undefined ? [] : [a.labels['dynamo_endpoint']])));
      assert.deepEqual([...alerted], ['bad']);

      // What the runtimes expose, once every runtime health family has data (GC, delay samples).
      const exposed = await waitFor(
        async () => {
          const names = new Set<string>();
          for (const rt of runtimes) for (const name of parseExposition(await rt.metricsText()).keys()) names.add(name);
          return names;
        },
        { what: 'a GC recorded', timeoutMs: 20_000, intervalMs: 200, until: (names) => names.has('v8js_gc_duration') && names.has('nodejs_eventloop_delay_p99') },
      );
      const byName = new Map(recordingRules().map((rule) => [rule.record!, rule]));
      const expressions: Array<{ what: string; expr: string }> = [];
      for (const rule of recordingRules()) {
        assertExposed(rule.record!, familiesOfRule(rule, byName), exposed);
        expressions.push({ what: `recording rule ${rule.record!}`, expr: rule.record! });
      }
      for (const panel of allPanels(dashboard()).filter((p) => p.type !== 'row')) {
        for (const target of panel.targets ?? []) {
          const expr = concreteExpr(target.expr);
          const what = `panel "${panel.title}" ${target.refId}`;
          assertExposed(what, familiesRead(expr), exposed);
          expressions.push({ what, expr });
        }
      }
      const empty = await waitFor(
        async () => {
          const none: string[] = [];
          for (const { what, expr } of expressions) if ((await prom!.query(expr)).length === 0) none.push(what);
          return none;
        },
        { what: 'every recording rule and panel query returning data', timeoutMs: 20_000, intervalMs: 500, until: (none) => none.length === 0 },
      );
      assert.deepEqual(empty, []);
      // The recorded error ratio of each endpoint, by type: the driven failures are all "generate".
      const byType = await prom.query('dynamo_endpoint_error_type:dynamo_component_errors:ratio_rate5m{dynamo_endpoint="bad"} > 0');
      assert.deepEqual(byType.map((s) => s.metric['error_type']), ['generate']);
      assert.deepEqual((await prom.query('dynamo_endpoint_error_type:dynamo_component_errors:ratio_rate5m{dynamo_endpoint="good"} > 0')), []);
    } finally {
      driving = false;
      await traffic.catch(() => {});
      await prom?.stop();
      for (const rt of runtimes) await rt.shutdown();
      await nats.stop();
    }
  });
});
