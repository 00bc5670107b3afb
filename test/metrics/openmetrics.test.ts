/**
 * The OpenMetrics rendering and its negotiation: what changes from text 0.0.4 (metadata names,
 * `info`, no blank lines, exemplars, `# EOF`) and what does not (every sample line), over real HTTP
 * with and without gzip.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExpositionFormat, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from '../../src/index.ts';
import { negotiateFormat } from '../../src/system/status-server.ts';
import { STATUS_SERVER_ENV } from '../helpers/scrape.ts';
import { testRuntime } from '../helpers/runtime.ts';

const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

describe('OpenMetrics negotiation', () => {
  it('gives OpenMetrics 1.0 only to a scraper that prefers it', () => {
    assert.equal(negotiateFormat(PROMETHEUS_ACCEPT), ExpositionFormat.OpenMetrics);
    assert.equal(negotiateFormat('application/openmetrics-text; version=1.0.0'), ExpositionFormat.OpenMetrics);
    assert.equal(negotiateFormat('application/openmetrics-text'), ExpositionFormat.OpenMetrics);
    assert.equal(negotiateFormat(undefined), ExpositionFormat.Text);
    assert.equal(negotiateFormat('*/*'), ExpositionFormat.Text);
    assert.equal(negotiateFormat('text/plain'), ExpositionFormat.Text);
    assert.equal(negotiateFormat('application/openmetrics-text;version=0.0.1'), ExpositionFormat.Text);
    assert.equal(negotiateFormat('application/openmetrics-text;q=0'), ExpositionFormat.Text);
    assert.equal(negotiateFormat('text/plain;version=0.0.4,application/openmetrics-text;version=1.0.0;q=0.5'), ExpositionFormat.Text);
    assert.equal(negotiateFormat('text/plain,application/openmetrics-text'), ExpositionFormat.Text);
    assert.equal(negotiateFormat('application/openmetrics-text,text/plain'), ExpositionFormat.OpenMetrics);
    assert.equal(negotiateFormat(';;,,garbage;q=x'), ExpositionFormat.Text);
  });

  it('serves each format with its content type, gzipped or not; the sample lines are the same', async () => {
    const rt = testRuntime({ env: { ...STATUS_SERVER_ENV } });
    await rt.start();
    try {
      const ep = rt.namespace('om_ns').component('om_comp').endpoint('om_ep');
      ep.setServing(true);
      ep.recorder.requestEnded(ep.recorder.requestStarted(3));
      ep.createCounter({ name: 'things', description: 'Things "counted"\nhere' }).add(2);
      const url = `http://127.0.0.1:${rt.systemPort}/metrics`;
      const get = async (headers: Record<string, string>): Promise<{ type: string | null; body: string }> => {
        const res = await fetch(url, { headers });
        return { type: res.headers.get('content-type'), body: await res.text() };
      };
      const text = await get({});
      assert.equal(text.type, PROMETHEUS_CONTENT_TYPE);
      // uptime is the one value that moves between two scrapes
      const stable = (body: string): string => body.replace(/^uptime_seconds\{.*$/m, 'uptime');
      assert.equal(stable(text.body), stable(await rt.metricsText()));
      const om = await get({ accept: PROMETHEUS_ACCEPT });
      assert.equal(om.type, OPENMETRICS_CONTENT_TYPE);

      const lines = om.body.split('\n');
      assert.equal(lines.at(-1), '');
      assert.equal(lines.at(-2), '# EOF');
      assert.ok(!lines.slice(0, -1).includes(''), 'no blank line');
      assert.ok(lines.includes('# TYPE dynamo_component_requests counter'));
      assert.ok(lines.includes('# TYPE dynamo_component_things counter'));
      assert.ok(lines.includes('# HELP dynamo_component_things Things \\"counted\\"\\nhere'));
      assert.ok(lines.includes('# TYPE target info'));
      assert.ok(lines.includes('# TYPE dynamo_component_request_duration_seconds histogram'));
      assert.ok(!lines.some((l) => /^# (TYPE|HELP) \S+_total /.test(l)), 'no _total in metadata');
      // Samples: the same lines in the same order, only the metadata differs.
      const samples = (body: string): string[] => body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      assert.deepEqual(samples(stable(om.body)), samples(stable(text.body)));

      for (const [headers, type] of [[{}, PROMETHEUS_CONTENT_TYPE], [{ accept: PROMETHEUS_ACCEPT }, OPENMETRICS_CONTENT_TYPE]] as const) {
        const res = await fetch(url, { headers: { ...headers, 'accept-encoding': 'gzip' } });
        assert.equal(res.headers.get('content-type'), type);
        // fetch decodes gzip itself; the header says it was sent compressed.
        assert.equal(res.headers.get('content-encoding'), 'gzip');
        assert.equal(stable(await res.text()), stable(type === PROMETHEUS_CONTENT_TYPE ? text.body : om.body));
      }
    } finally {
      await rt.shutdown();
    }
  });
});
