import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ALERTING_RULES, alertingRules, RECORDING_RULES, recordingRules } from './kit.ts';

const OPERATIONS = new URL('../../docs/operations.md', import.meta.url);

describe('docs/operations.md, the operations kit', () => {
  it('its Prometheus configuration, with the shipped rule files where it says, passes promtool check config', () => {
    const page = readFileSync(OPERATIONS, 'utf8');
    const section = page.slice(page.indexOf('### Loading the rules'));
    const config = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(config !== undefined, 'no yaml block under "Loading the rules"');
    const dir = mkdtempSync(join(tmpdir(), 'dynamo-docs-prom-'));
    try {
      mkdirSync(join(dir, 'observability', 'prometheus'), { recursive: true });
      copyFileSync(RECORDING_RULES, join(dir, 'observability', 'prometheus', 'recording-rules.yml'));
      copyFileSync(ALERTING_RULES, join(dir, 'observability', 'prometheus', 'alerting-rules.yml'));
      writeFileSync(join(dir, 'prometheus.yml'), config);
      const check = spawnSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
      const output = `${check.stdout}${check.stderr}`;
      assert.equal(check.status, 0, output);
      assert.match(output, /SUCCESS: 2 rule files found/);
      assert.match(output, new RegExp(`SUCCESS: ${recordingRules().length} rules found`));
      assert.match(output, new RegExp(`SUCCESS: ${alertingRules().length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists every shipped alert in its table', () => {
    const page = readFileSync(OPERATIONS, 'utf8');
    for (const rule of alertingRules()) assert.match(page, new RegExp(`\\| \`${rule.alert}\` \\| ${rule.labels?.['severity']} \\|`), rule.alert);
  });
});
