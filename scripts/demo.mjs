// `npm run demo`: the whole example on one machine, then the metrics it produced.
//  1. a NATS server: the one at NATS_SERVER if it answers, else a local nats-server started here
//     (installed from Debian's packages when missing and we are root);
//  2. the example server with the system status server on;
//  3. the example client, three times;
//  4. /metrics, printed; then everything started here is stopped.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureTools } from './ensure-tools.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const children = [];
const cleanups = [];

function say(msg) {
  console.log(`\x1b[1m[demo]\x1b[0m ${msg}`);
}

function reachable(host, port) {
  return new Promise((resolve) => {
    const s = tcpConnect({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
  });
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });
}

async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

function start(cmd, args, env, label) {
  const child = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  createInterface({ input: child.stdout }).on('line', (l) => process.stdout.write(`  ${label} | ${l}\n`));
  createInterface({ input: child.stderr }).on('line', (l) => process.stderr.write(`  ${label} | ${l}\n`));
  return child;
}

function run(cmd, args, env, label) {
  return new Promise((resolve, reject) => {
    const child = start(cmd, args, env, label);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${label} exited with ${code}`))));
  });
}

async function waitFor(what, fn, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function main() {
  const env = { ...process.env };
  const natsUrl = (env.NATS_SERVER ?? 'nats://127.0.0.1:4222').split(',')[0].trim();
  const m = /^(?:nats:\/\/)?([^:/]+):(\d+)/.exec(natsUrl);
  if (m && (await reachable(m[1], Number(m[2])))) {
    say(`using the NATS server at ${natsUrl}`);
  } else {
    ensureTools(['nats-server']);
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'dynamo-demo-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    say(`no NATS server at ${natsUrl}: starting nats-server on 127.0.0.1:${port}`);
    const nats = start('nats-server', ['-a', '127.0.0.1', '-p', String(port)], env, 'nats-server');
    await waitFor('nats-server', () => reachable('127.0.0.1', port));
    if (nats.exitCode !== null) throw new Error('nats-server exited');
    env.NATS_SERVER = `nats://127.0.0.1:${port}`;
  }

  const systemPort = env.DYN_SYSTEM_PORT ?? ((await portFree(8081)) ? '8081' : String(await freePort()));
  const serverEnv = { ...env, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: systemPort, DYN_LOG: env.DYN_LOG ?? 'info' };
  say(`starting the example server (DYN_SYSTEM_ENABLED=true DYN_SYSTEM_PORT=${systemPort})`);
  const server = start(process.execPath, ['--import', 'tsx', 'examples/system_metrics/server.ts'], serverEnv, 'server');
  const base = `http://127.0.0.1:${systemPort}`;
  await waitFor('the server to be ready (/health)', async () => {
    if (server.exitCode !== null) throw new Error(`the server exited with ${server.exitCode}`);
    return (await fetch(`${base}/health`)).status === 200;
  });

  for (const text of ['hello world', 'hello world', 'hello world']) {
    say(`client: sending ${JSON.stringify(text)}`);
    await run(process.execPath, ['--import', 'tsx', 'examples/system_metrics/client.ts', text], env, 'client');
  }

  say(`metrics from ${base}/metrics:\n`);
  const text = await (await fetch(`${base}/metrics`)).text();
  console.log(text);
  say('done: stopping the server');
}

let code = 0;
try {
  await main();
} catch (err) {
  console.error(`[demo] failed: ${err.message}`);
  code = 1;
} finally {
  for (const child of children.reverse()) await stopChild(child);
  for (const c of cleanups) c();
}
process.exit(code);
