import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { eventually, freePort, promtoolCheck } from '../helpers/tools.ts';

const root = new URL('../../', import.meta.url);

function node(script: string, args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function exited(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('examples/system_metrics as real processes', () => {
  let nats: NatsServer;
  let server: ChildProcess;
  let serverExit: ReturnType<typeof exited>;
  let base: string;
  let env: Record<string, string>;

  before(async () => {
    nats = await startNatsServer();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = { NATS_SERVER: nats.url, DYN_LOG: 'info' };
    server = node('examples/system_metrics/server.ts', [], { ...env, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: String(port), DYN_SYSTEM_HOST: '127.0.0.1' });
    serverExit = exited(server);
    await eventually(async () => ((await fetch(`${base}/health`)).status === 200 ? true : undefined), 20_000, 'server ready');
  });
  after(async () => {
    if (server.exitCode === null) server.kill('SIGKILL');
    await nats.stop();
  });

  it('the client prints the streamed reply and exits 0; /metrics shows the seed families with exact values', async () => {
    const client = await exited(node('examples/system_metrics/client.ts', ['hello dynamo'], env));
    assert.equal(client.code, 0, client.stderr);
    assert.equal(client.stdout, 'hello dynamo\n');
    const defaultClient = await exited(node('examples/system_metrics/client.ts', [], env));
    assert.equal(defaultClient.stdout, 'hello world\n');

    const text = await (await fetch(`${base}/metrics`)).text();
    const check = promtoolCheck(text);
    assert.equal(check.status, 0, check.output);
    const f = parseExposition(text);
    const L = { dynamo_namespace: 'example_namespace', dynamo_component: 'example_component', dynamo_endpoint: 'example_endpoint' };
    const v = (name: string) => sampleValue(f, name, name, L);
    assert.equal(v('dynamo_component_requests_total'), 2);
    // JSON bodies: "hello dynamo" is 14 bytes, "hello world" 13
    assert.equal(v('dynamo_component_request_bytes_total'), 14 + 13);
    // one 3-byte JSON string per character, plus the end-of-stream message {"count":N}
    assert.equal(v('dynamo_component_response_bytes_total'), 12 * 3 + 12 + 11 * 3 + 12);
    assert.equal(v('dynamo_component_bytes_processed_total'), 12 + 11);
    assert.equal(v('dynamo_component_inflight_requests'), 0);
    assert.equal(f.get('dynamo_component_errors_total')!.samples.length, 6);
    assert.ok(f.has('uptime_seconds'));
  });

  it('shuts down on SIGTERM and exits 0', async () => {
    server.kill('SIGTERM');
    const { code, stderr } = await serverExit;
    assert.equal(code, 0);
    assert.match(stderr, /"msg":"runtime shut down"/);
  });
});
