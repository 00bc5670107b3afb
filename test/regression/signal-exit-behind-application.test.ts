// Regression: the runtime's SIGTERM handler ended in process.exit(0) as soon as *its* shutdown was
// done — cutting off the application's own async shutdown, and, with two runtimes in one process,
// exiting under the one still draining.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { DistributedRuntime, EndpointMetric } from '../../src/index.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { exportedValue, startHttpReceiver } from '../helpers/otlp-receiver.ts';

interface App {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  /** Resolves with the first stdout line matching `pattern`. */
  line(pattern: RegExp): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
  stderr(): string;
}

function startApp(mode: string, env: Record<string, string>): App {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/signal-app.ts'], {
    cwd: new URL('../../', import.meta.url),
    env: { ...process.env, ...env, APP_MODE: mode },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (m: RegExpExecArray) => void }> = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters) {
      const m = w.pattern.exec(l);
      if (m) w.resolve(m);
    }
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    stderr: () => stderr,
    line: (pattern) =>
      new Promise((resolve, reject) => {
        const seen = lines.map((l) => pattern.exec(l)).find((m) => m !== null);
        if (seen) return resolve(seen);
        waiters.push({ pattern, resolve });
        void exited.then((code) => reject(new Error(`the app exited (${code}) before printing ${pattern}: ${stderr}`)));
      }),
  };
}

describe('signals and the application', () => {
  it("an application's own async SIGTERM handler runs to completion and decides the exit code", async () => {
    const receiver = await startHttpReceiver();
    try {
      const app = startApp('own-handler', { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '600000' });
      const [, instance] = await app.line(/^ready (\S+)$/);
      app.child.kill('SIGTERM');
      assert.equal(await app.exited, 3, app.stderr());
      assert.deepEqual(app.lines, [`ready ${instance}`, 'application cleanup done']);
      // The runtime still shut down properly: its final export went out, once.
      assert.deepEqual(receiver.exports.map((e) => e.resource['service.instance.id']), [instance]);
    } finally {
      await receiver.stop();
    }
  });

  it('two runtimes in one process: the process exits 0 only after both have drained and flushed', async () => {
    const nats = await startNatsServer();
    const receiver = await startHttpReceiver();
    const clientRt = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
    try {
      const app = startApp('two-runtimes', { NATS_SERVER: nats.url, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '600000' });
      const [, a, b] = await app.line(/^ready (\S+) (\S+)$/);
      const slow = await clientRt.namespace('ns').component('a').endpoint('slow').client({ timeoutMs: 10_000 });
      const quick = await clientRt.namespace('ns').component('b').endpoint('quick').client();
      await slow.waitForInstances();
      await quick.waitForInstances();
      assert.deepEqual(await quick.generate<string>('x').collect(), ['b done']);
      const slowReply = slow.generate<string>('x').collect();
      await app.line(/^started a\/slow$/);
      // b drains at once, a only when its 600 ms request is done.
      app.child.kill('SIGTERM');
      assert.deepEqual(await slowReply, ['a done']);
      assert.equal(await app.exited, 0, app.stderr());
      const finals = new Map(receiver.exports.map((e) => [e.resource['service.instance.id'], e]));
      assert.deepEqual([...finals.keys()].sort(), [a, b].sort());
      const requests = (instance: string | undefined, component: string, endpoint: string) =>
        exportedValue(finals.get(instance)!, EndpointMetric.requests.name, { dynamo_namespace: 'ns', dynamo_component: component, dynamo_endpoint: endpoint }).value;
      assert.equal(requests(a, 'a', 'slow'), 1);
      assert.equal(requests(b, 'b', 'quick'), 1);
      await slow.close();
      await quick.close();
    } finally {
      await clientRt.shutdown();
      await receiver.stop();
      await nats.stop();
    }
  });
});
