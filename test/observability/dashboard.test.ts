import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AUTOMATIC_METRICS, NatsConnectedMetric, UptimeMetric } from '../../src/metrics/names.ts';
import { CLIENT_METRICS } from '../../src/metrics/client-names.ts';
import { allPanels, alertingRules, concreteExpr, dashboard, familiesRead, recordingRules, RUNTIME_HEALTH_FAMILIES } from './kit.ts';

/** Every family the runtime exposes, plus Prometheus's own `up`. */
const KNOWN = new Set<string>([
  ...AUTOMATIC_METRICS.map((m) => m.name),
  UptimeMetric.name,
  NatsConnectedMetric.name,
  ...RUNTIME_HEALTH_FAMILIES,
  ...CLIENT_METRICS.map((m) => m.name),
  'up',
]);

const ROWS = ['Traffic', 'Errors by type', 'Latency and time to first response', 'Streaming', 'Saturation', 'Caller view', 'Runtime health'];

describe('the Grafana dashboard', () => {
  const board = dashboard();
  const panels = allPanels(board);
  const graphs = panels.filter((p) => p.type !== 'row');

  it('has the structure Grafana imports: schema version, unique panel ids, rows in order, panels on the 24-column grid without overlap', () => {
    assert.equal(board.schemaVersion, 39);
    assert.equal(board.uid, 'dynamo-endpoints');
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    assert.ok(ids.every((id) => Number.isInteger(id) && id > 0));
    assert.deepEqual(panels.filter((p) => p.type === 'row').map((p) => p.title), ROWS);
    const cells = new Set<string>();
    for (const panel of panels) {
      const { x, y, w, h } = panel.gridPos;
      assert.ok(x >= 0 && w > 0 && x + w <= 24 && h > 0 && y >= 0, `${panel.title}: gridPos ${JSON.stringify(panel.gridPos)}`);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          assert.ok(!cells.has(`${i},${j}`), `${panel.title} overlaps another panel at ${i},${j}`);
          cells.add(`${i},${j}`);
        }
      }
    }
    for (const panel of graphs) assert.equal(panel.type, 'timeseries', panel.title);
  });

  it('takes its data source from a variable, used by every panel, target and variable query', () => {
    const [first, ...variables] = board.templating.list;
    assert.deepEqual({ name: first?.name, type: first?.type, query: first?.query }, { name: 'datasource', type: 'datasource', query: 'prometheus' });
    assert.deepEqual(variables.map((v) => v.name), ['namespace', 'component', 'endpoint', 'instance']);
    for (const variable of variables) assert.deepEqual(variable.datasource, { type: 'prometheus', uid: '${datasource}' }, variable.name);
    for (const panel of graphs) {
      assert.deepEqual(panel.datasource, { type: 'prometheus', uid: '${datasource}' }, panel.title);
      assert.ok((panel.targets ?? []).length > 0, `${panel.title}: no query`);
      for (const target of panel.targets ?? []) assert.deepEqual(target.datasource, { type: 'prometheus', uid: '${datasource}' }, `${panel.title} ${target.refId}`);
    }
  });

  it('queries only families the runtime exposes, filtered by the variables', () => {
    for (const panel of graphs) {
      for (const target of panel.targets ?? []) {
        const families = familiesRead(concreteExpr(target.expr));
        assert.ok(families.length > 0, `${panel.title}: reads no family`);
        for (const family of families) assert.ok(KNOWN.has(family), `${panel.title}: unknown family ${family}`);
        const byEndpoint = /dynamo_(component|client)_/.test(target.expr);
        if (byEndpoint) for (const variable of ['$namespace', '$component', '$endpoint']) assert.ok(target.expr.includes(variable), `${panel.title}: not filtered by ${variable}`);
        else assert.ok(target.expr.includes('$instance'), `${panel.title}: not filtered by $instance`);
      }
    }
  });

  it('the rules read only families the runtime exposes', () => {
    for (const rule of [...recordingRules(), ...alertingRules()]) {
      for (const family of familiesRead(rule.expr)) assert.ok(KNOWN.has(family), `${rule.record ?? rule.alert}: unknown family ${family}`);
    }
  });
});
