/** A real `nats-server` on a free loopback port, for tests. Never mocked. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './tools.ts';

export interface NatsServerOptions {
  /** `max_payload` in bytes. Default: the server's (1 MiB). */
  maxPayload?: number;
  /** Require this token from clients. Default: no auth. */
  token?: string;
  /** More configuration, appended as is (e.g. an `authorization` block with users and permissions). */
  extraConfig?: string;
}

export interface NatsServer {
  readonly port: number;
  readonly url: string;
  /** Kills the process (SIGKILL): an outage, not a goodbye. */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-nats-'));
  const config = join(dir, 'nats.conf');
  writeFileSync(
    config,
    `listen: 127.0.0.1:${port}\n${options.maxPayload === undefined ? '' : `max_payload: ${options.maxPayload}\n`}${options.token === undefined ? '' : `authorization { token: "${options.token}" }\n`}${options.extraConfig ?? ''}\n`,
  );
  let proc: ChildProcess | undefined;
  let stderr = '';

  const launch = async (): Promise<void> => {
    stderr = '';
    proc = spawn('nats-server', ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    const child = proc;
    // A test process that dies early must not leave its nats-server behind.
    process.once('exit', () => child.kill('SIGKILL'));
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(port))) {
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`nats-server did not start on ${port}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const p = proc;
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  };

  await launch();
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    kill: () => halt('SIGKILL'),
    restart: launch,
    async stop() {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
