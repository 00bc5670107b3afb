import assert from 'node:assert/strict';
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime, DynamoError, ErrorCode, PROMETHEUS_CONTENT_TYPE } from '../../src/index.ts';
import { parseExposition } from '../helpers/exposition.ts';
import { captureLogs, testRuntime } from '../helpers/runtime.ts';
import { freePort } from '../helpers/tools.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function http(port: number, method: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('system status server', () => {
  let rt: DistributedRuntime;
  let port: number;
  const logs = captureLogs();

  before(async () => {
    rt = await DistributedRuntime.create({
      env: { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1', DYN_LOG: 'info' },
      logSink: logs.sink,
      nats: false,
      handleSignals: false,
      // The gzip test compares two scrapes: runtime health values move between them.
      runtimeMetrics: false,
    });
    port = rt.systemPort!;
  });
  after(() => rt.shutdown());

  it('logs the port it picked for DYN_SYSTEM_PORT=0', () => {
    assert.ok(port > 0);
    const line = logs.lines.find((l) => l['msg'] === 'system status server listening');
    assert.deepEqual([line?.['port'], line?.['host'], line?.['level']], [port, '127.0.0.1', 'info']);
  });

  it('serves /metrics as Prometheus text, HEAD with the same headers and no body', async () => {
    rt.namespace('n').component('c').endpoint('e').setServing(true);
    const get = await http(port, 'GET', '/metrics');
    assert.equal(get.status, 200);
    assert.equal(get.headers['content-type'], PROMETHEUS_CONTENT_TYPE);
    const families = parseExposition(get.body);
    assert.equal(families.get('dynamo_component_requests_total')!.samples[0]!.value, 0);
    const head = await http(port, 'HEAD', '/metrics');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-type'], PROMETHEUS_CONTENT_TYPE);
    const query = await http(port, 'GET', '/metrics?name[]=x');
    assert.equal(query.status, 200);
  });

  it('gzips /metrics for scrapers that accept it, as Prometheus does', async () => {
    const plain = await http(port, 'GET', '/metrics');
    const zipped = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/metrics', headers: { 'accept-encoding': 'gzip, deflate' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(zipped.encoding, 'gzip');
    const text = gunzipSync(zipped.body).toString('utf8');
    // uptime moves between the two scrapes; everything else is the same
    const strip = (t: string) => t.replace(/^uptime_seconds\{.*$/m, '');
    assert.equal(strip(text), strip(plain.body));
  });

  it('serves /live and /health; /health names each serving endpoint', async () => {
    const live = await http(port, 'GET', '/live');
    assert.deepEqual([live.status, JSON.parse(live.body)], [200, { status: 'live' }]);
    rt.namespace('n').component('c').endpoint('e').setServing(true);
    const health = await http(port, 'GET', '/health');
    const body = JSON.parse(health.body);
    assert.equal(health.status, 200);
    assert.deepEqual([body.status, body.nats, body.endpoints], ['ready', 'not_configured', { 'n/c/e': 'serving' }]);
    rt.namespace('n').component('c').endpoint('e').setServing(false);
    const down = await http(port, 'GET', '/health');
    assert.equal(down.status, 503);
    assert.deepEqual(JSON.parse(down.body).endpoints, { 'n/c/e': 'not_serving' });
    assert.equal((await http(port, 'HEAD', '/health')).status, 503);
    rt.namespace('n').component('c').endpoint('e').setServing(true);
  });

  it('answers 405 with Allow for other methods and 404 for other paths', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await http(port, method, '/metrics');
      assert.equal(r.status, 405, method);
      assert.equal(r.headers['allow'], 'GET, HEAD');
    }
    for (const path of ['/', '/metrics/', '/metrics/../x', '/%6detrics', '/Metrics', '/healthz', '/live/x']) {
      assert.equal((await http(port, 'GET', path)).status, 404, path);
    }
  });
});

describe('system status server start errors', () => {
  it('fails start with DYN_ERR_PORT_IN_USE naming the port and DYN_SYSTEM_PORT', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((r) => blocker.listen(0, '127.0.0.1', () => r((blocker.address() as { port: number }).port)));
    try {
      await assert.rejects(
        DistributedRuntime.create({ env: { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: String(port), DYN_SYSTEM_HOST: '127.0.0.1' }, logSink: () => {}, nats: false, handleSignals: false }),
        (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.PortInUse && e.message.includes(`127.0.0.1:${port}`) && e.message.includes('DYN_SYSTEM_PORT'),
      );
    } finally {
      blocker.close();
    }
  });

  it('fails start with DYN_ERR_SYSTEM_SERVER for an address it cannot bind', async () => {
    await assert.rejects(
      DistributedRuntime.create({ env: { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '203.0.113.77' }, logSink: () => {}, nats: false, handleSignals: false }),
      (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.SystemServer && e.message.includes('203.0.113.77'),
    );
  });

  it('binds a high explicit port and is off unless enabled', async () => {
    const port = await freePort();
    const rt = await DistributedRuntime.create({ env: { DYN_SYSTEM_ENABLED: '1', DYN_SYSTEM_PORT: String(port), DYN_SYSTEM_HOST: '127.0.0.1' }, logSink: () => {}, nats: false, handleSignals: false });
    assert.equal(rt.systemPort, port);
    assert.equal((await http(port, 'GET', '/live')).status, 200);
    await rt.shutdown();
    const off = testRuntime();
    await off.start();
    assert.equal(off.systemPort, undefined);
  });

  it('binds a privileged port (the whole 1–65535 range works when allowed)', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    let rt: DistributedRuntime | undefined;
    for (const port of [1, 7, 9, 13]) {
      try {
        rt = await DistributedRuntime.create({ env: { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: String(port), DYN_SYSTEM_HOST: '127.0.0.1' }, logSink: () => {}, nats: false, handleSignals: false });
        assert.equal(rt.systemPort, port);
        assert.equal((await http(port, 'GET', '/live')).status, 200);
        break;
      } catch (e) {
        if (!(e instanceof DynamoError && e.code === ErrorCode.PortInUse)) throw e;
      }
    }
    assert.ok(rt, 'no low port was free');
    await rt.shutdown();
  });
});
