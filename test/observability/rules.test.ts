import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ALERTING_RULES, alertingRules, PROMTOOL_TESTS, RECORDING_RULES, recordingRules, recordedRead } from './kit.ts';

function promtool(args: string[], cwd?: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', ...(cwd === undefined ? {} : { cwd }) });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

interface AlertTest {
  alertname: string;
  eval_time: string;
  exp_alerts: Array<{ exp_labels: Record<string, string>; exp_annotations: Record<string, string> }>;
}

describe('the shipped Prometheus rules', () => {
  it('pass promtool check rules', () => {
    const check = promtool(['check', 'rules', RECORDING_RULES, ALERTING_RULES]);
    assert.equal(check.status, 0, check.output);
    assert.match(check.output, new RegExp(`SUCCESS: ${recordingRules().length} rules found`));
    assert.match(check.output, new RegExp(`SUCCESS: ${alertingRules().length} rules found`));
  });

  it('pass their promtool unit tests', () => {
    const run = promtool(['test', 'rules', PROMTOOL_TESTS], dirname(PROMTOOL_TESTS));
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /SUCCESS/);
  });

  it('have a unit test for every alert: one where it fires, with exact labels and annotations, and one where it stays silent', () => {
    const tests = (parse(readFileSync(PROMTOOL_TESTS, 'utf8')) as { tests: Array<{ alert_rule_test?: AlertTest[] }> }).tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const rule of alertingRules()) {
      const mine = tests.filter((t) => t.alertname === rule.alert);
      const firing = mine.filter((t) => t.exp_alerts.length > 0);
      assert.ok(firing.length > 0, `${rule.alert}: no test where it fires`);
      assert.ok(mine.some((t) => t.exp_alerts.length === 0), `${rule.alert}: no test where it stays silent`);
      for (const expected of firing.flatMap((t) => t.exp_alerts)) {
        assert.equal(expected.exp_labels['severity'], rule.labels?.['severity'], `${rule.alert}: severity`);
        assert.deepEqual(Object.keys(expected.exp_annotations).sort(), Object.keys(rule.annotations ?? {}).sort(), `${rule.alert}: annotations`);
      }
    }
  });

  it('name recorded series level:metric:operations, and every alert has a severity, a summary, a description and a runbook', () => {
    const recorded = new Set(recordingRules().map((r) => r.record!));
    assert.equal(recorded.size, recordingRules().length, 'no series recorded twice');
    for (const name of recorded) assert.match(name, /^dynamo_endpoint(_[a-z_]+)?:dynamo_(component|client)_[a-z_]+:[a-z0-9_]+$/, name);
    for (const rule of [...recordingRules(), ...alertingRules()]) {
      for (const used of recordedRead(rule.expr)) assert.ok(recorded.has(used), `${rule.record ?? rule.alert} reads ${used}, which no rule records`);
    }
    for (const rule of alertingRules()) {
      assert.match(rule.alert!, /^Dynamo[A-Z][A-Za-z]+$/);
      assert.ok(['critical', 'warning'].includes(rule.labels?.['severity'] ?? ''), `${rule.alert}: severity`);
      assert.deepEqual(Object.keys(rule.annotations ?? {}).sort(), ['description', 'runbook', 'summary'], `${rule.alert}: annotations`);
    }
  });
});
