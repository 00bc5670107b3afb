/**
 * A real Prometheus (Debian's 2.42) for the operations-kit tests: loopback, a temporary data dir,
 * every target scraped and every rule evaluated each second, the shipped rule files loaded as they are.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/tools.ts';
import { waitFor } from '../helpers/wait.ts';

export interface Series {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
}

export interface RulesPrometheus {
  url: string;
  query(expr: string): Promise<Series[]>;
  alerts(): Promise<Alert[]>;
  stop(): Promise<void>;
}

export async function startRulesPrometheus(targets: string[], ruleFiles: string[]): Promise<RulesPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-prom-rules-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      ...ruleFiles.map((file) => `  - ${JSON.stringify(file)}`),
      'scrape_configs:',
      '  - job_name: dynamo',
      '    static_configs:',
      `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const proc = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killOnExit = (): void => {
    proc.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
        return (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok === true;
      },
      { what: 'prometheus ready', timeoutMs: 20_000, intervalMs: 100 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const api = async <T>(path: string): Promise<T> => {
    const body = (await (await fetch(`${url}${path}`)).json()) as { status: string; data: T };
    if (body.status !== 'success') throw new Error(`${path}: ${JSON.stringify(body)}`);
    return body.data;
  };
  return {
    url,
    stop,
    query: async (expr) => (await api<{ result: Series[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    alerts: async () => (await api<{ alerts: Alert[] }>('/api/v1/alerts')).alerts,
  };
}
