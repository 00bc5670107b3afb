// The package as a user gets it: `npm pack`, the tarball installed with `npm install --engine-strict`
// into fresh applications, each run for real against a nats-server and an OTLP receiver.
//
//   node --import tsx scripts/consumer-test.ts [--node <path to a node binary>]... [--types-only]
//
// With no --node, the node running this script. For every Node version:
//   esm       ES module app, embedded SDK, OTLP http/protobuf (exporter-metrics-otlp-proto installed),
//             runtime health metrics (instrumentation-runtime-node and -host-metrics installed: on)
//   cjs       CommonJS app (`require`), embedded SDK, OTLP http/json (exporter-metrics-otlp-http),
//             no runtime health packages (runtime health off, nothing else changes)
//   missing   the CommonJS app with OTLP over gRPC, whose exporter is not installed: a clear error;
//             and with DYN_RUNTIME_METRICS=true, the runtime health packages not installed: the same
//   sdk       an app with its own @opentelemetry/sdk-node started first: 0.223 (SDK 2.x) on Node 20,
//             0.30x (SDK 3.x) on Node ≥ 22.15
// and once, type-checking only: a TypeScript app under moduleResolution node16 and nodenext (as
// ES module and as CommonJS) and bundler, with TypeScript 5.0 and with the repository's.
//
// Each app serves an endpoint, calls it, and the values are checked exactly on /metrics and in the
// final OTLP export; `npm ls --all` must show one copy of every @opentelemetry/* package.
// Not part of `npm test`: .ci/run calls it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseExposition, sampleValue } from '../test/helpers/exposition.ts';
import { startNatsServer } from '../test/helpers/nats-server.ts';
import { exportedValue, startHttpReceiver, type Receiver } from '../test/helpers/otlp-receiver.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixtures = join(root, 'scripts', 'consumer');
const ATTRS = { dynamo_namespace: 'consumer', dynamo_component: 'app', dynamo_endpoint: 'echo' };
/** `"hello consumer world"` as the JSON body the client sends. */
const REQUEST_BYTES = Buffer.byteLength(JSON.stringify('hello consumer world'));

interface NodeBin {
  path: string;
  version: string;
  major: number;
}

function nodeBin(path: string): NodeBin {
  const version = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.trim();
  if (!/^v\d+\./.test(version)) throw new Error(`${path} is not a node binary`);
  return { path, version, major: Number(version.slice(1).split('.')[0]) };
}

/** Runs a command with `node` (and so `npm`) resolving to the given binary. */
function run(cmd: string, args: string[], cwd: string, node: NodeBin, env: Record<string, string> = {}): string {
  const result = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...env, PATH: `${dirname(node.path)}${delimiter}${process.env['PATH'] ?? ''}` },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}, ${node.version}) failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** Runs an app to completion (at most 60 s) and returns its last stdout line, parsed. */
function runApp(node: NodeBin, dir: string, file: string, env: Record<string, string>): Promise<Record<string, any>> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(node.path, [file], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) return reject(new Error(`${file} on ${node.version} exited ${code}:\n${out}\n${err}`));
      try {
        resolvePromise(JSON.parse(last) as Record<string, any>);
      } catch {
        reject(new Error(`${file} on ${node.version} printed no result:\n${out}\n${err}`));
      }
    });
  });
}

function installedVersion(dir: string, pkg: string): string {
  return (JSON.parse(readFileSync(join(dir, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Every @opentelemetry/* (and @nats-io/*) package must exist once in the tree. */
function assertSingleCopies(dir: string, node: NodeBin, label: string): void {
  const paths = run('npm', ['ls', '--all', '--parseable'], dir, node).split('\n');
  const copies = new Map<string, number>();
  for (const path of paths) {
    const m = /node_modules\/(@(?:opentelemetry|nats-io)\/[^/]+)$/.exec(path.trim());
    if (m) copies.set(m[1]!, (copies.get(m[1]!) ?? 0) + 1);
  }
  const duplicated = [...copies].filter(([, n]) => n > 1);
  assert.deepEqual(duplicated, [], `${label}: packages installed more than once`);
  assert.ok(copies.has('@opentelemetry/sdk-metrics'), `${label}: no @opentelemetry/sdk-metrics in the tree`);
}

function makeApp(base: string, name: string, type: 'module' | 'commonjs', dependencies: Record<string, string>, files: string[]): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: `consumer-${name}`, version: '1.0.0', private: true, type, dependencies }, null, 2)}\n`);
  for (const file of files) cpSync(join(fixtures, file), join(dir, file));
  return dir;
}

function install(dir: string, node: NodeBin): void {
  run('npm', ['install', '--engine-strict', '--no-audit', '--no-fund', '--loglevel=error'], dir, node);
}

interface Checked {
  app: string;
  node: string;
  sdkMetrics: string;
  api: string;
}

/**
 * The exact values of one `hello consumer world` request, on /metrics and in the app's OTLP export;
 * with `traced` (the app passed a tracer provider), the request's exemplars in that export.
 */
function checkResult(label: string, result: Record<string, any>, receiver: Receiver, serviceName: string, loadedSuffix: string, runtimeHealth = false, traced = false): void {
  assert.deepEqual(result['got'], ['hello', 'consumer', 'world'], `${label}: the streamed reply`);
  assert.ok(String(result['loaded']).endsWith(loadedSuffix), `${label}: loaded ${String(result['loaded'])}, expected …${loadedSuffix}`);
  const families = parseExposition(String(result['metrics']));
  const scraped = (name: string, labels: Record<string, string> = ATTRS) => sampleValue(families, name, name, labels);
  assert.equal(scraped('dynamo_component_requests_total'), 1, `${label}: /metrics requests`);
  assert.equal(scraped('dynamo_component_request_bytes_total'), REQUEST_BYTES, `${label}: /metrics request bytes`);
  assert.equal(scraped('dynamo_component_inflight_requests'), 0, `${label}: /metrics in-flight`);
  assert.equal(scraped('dynamo_component_errors_total', { ...ATTRS, error_type: 'generate' }), 0, `${label}: /metrics generate errors`);
  // Runtime health: on exactly when its packages are installed (embedded SDK, default settings).
  for (const family of ['nodejs_eventloop_utilization', 'process_cpu_time_total', 'v8js_memory_heap_used']) {
    assert.equal(families.has(family), runtimeHealth, `${label}: ${family} on /metrics`);
  }
  const responseBytes = scraped('dynamo_component_response_bytes_total');
  const exports = receiver.exports.filter((e) => e.resource['service.name'] === serviceName);
  assert.ok(exports.length >= 1, `${label}: no OTLP export from ${serviceName}`);
  const last = exports.at(-1)!;
  assert.equal(exportedValue(last, 'dynamo_component_requests_total', ATTRS).value, 1, `${label}: OTLP requests`);
  assert.equal(exportedValue(last, 'dynamo_component_request_bytes_total', ATTRS).value, REQUEST_BYTES, `${label}: OTLP request bytes`);
  assert.equal(exportedValue(last, 'dynamo_component_response_bytes_total', ATTRS).value, responseBytes, `${label}: OTLP response bytes`);
  assert.equal(exportedValue(last, 'dynamo_component_request_duration_seconds', ATTRS).count, 1, `${label}: OTLP duration count`);
  // The exporter line the app installed carries exemplars: one per histogram, the one request's.
  const traceIds = new Set<string>();
  for (const family of ['dynamo_component_request_duration_seconds', 'dynamo_component_time_to_first_response_seconds']) {
    const exemplars = exportedValue(last, family, ATTRS).exemplars ?? [];
    assert.equal(exemplars.length, traced ? 1 : 0, `${label}: ${family} exemplars over OTLP`);
    if (!traced) continue;
    assert.equal(exemplars[0]!.value, sampleValue(families, family, `${family}_sum`, ATTRS), `${label}: ${family} exemplar value`);
    assert.match(exemplars[0]!.traceId, /^[0-9a-f]{32}$/);
    traceIds.add(exemplars[0]!.traceId);
  }
  if (traced) assert.equal(traceIds.size, 1, `${label}: both exemplars are the request's trace`);
}

async function main(): Promise<void> {
  const nodeArgs = process.argv.slice(2).flatMap((arg, i, all) => (all[i - 1] === '--node' ? [arg] : []));
  const typesOnly = process.argv.includes('--types-only');
  const nodes = (nodeArgs.length > 0 ? nodeArgs : [process.execPath]).map((p) => nodeBin(resolve(p)));
  const base = mkdtempSync(join(tmpdir(), 'dynamo-consumer-'));
  const nats = await startNatsServer();
  const receiver = await startHttpReceiver();
  const checked: Checked[] = [];
  try {
    // The tarball, exactly as `npm publish` would upload it (prepublishOnly builds).
    const first = nodes[0]!;
    run('npm', ['run', 'build', '--silent'], root, first);
    const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', base], root, first)) as Array<{ filename: string; size: number; unpackedSize: number }>;
    const tarball = join(base, packed[0]!.filename);
    console.log(`consumer: packed ${packed[0]!.filename} (${packed[0]!.size} bytes, ${packed[0]!.unpackedSize} unpacked)`);
    const self = { 'dynamo-otel': `file:${tarball}` };

    for (const node of typesOnly ? [] : nodes) {
      const sdk3 = node.major >= 22;
      const tag = `node${node.major}`;
      const env = (service: string, protocol: string) => ({
        NATS_SERVER: nats.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_METRIC_EXPORT_INTERVAL: '600000',
        OTEL_SERVICE_NAME: service,
        // The receiver takes metrics only: sdk-node would otherwise send the runtime's request spans
        // to its default OTLP trace exporter at the same endpoint.
        OTEL_TRACES_EXPORTER: 'none',
        RECEIVER_URL: receiver.url,
      });
      const done = (app: string, dir: string) => {
        checked.push({ app, node: node.version, sdkMetrics: installedVersion(dir, '@opentelemetry/sdk-metrics'), api: installedVersion(dir, '@opentelemetry/api') });
      };

      const runtimeHealth = sdk3
        ? { '@opentelemetry/instrumentation-runtime-node': '^0.37.0', '@opentelemetry/instrumentation-host-metrics': '^0.7.0' }
        : { '@opentelemetry/instrumentation-runtime-node': '^0.36.1', '@opentelemetry/instrumentation-host-metrics': '^0.6.0' };
      const traceSdk = { '@opentelemetry/sdk-trace': sdk3 ? '^3.0.0' : '2.12.0' };
      const esm = makeApp(base, `${tag}-esm`, 'module', { ...self, '@opentelemetry/exporter-metrics-otlp-proto': sdk3 ? '^0.301.0' : '^0.223.0', ...runtimeHealth, ...traceSdk }, ['app.mjs', 'exercise.cjs']);
      install(esm, node);
      assertSingleCopies(esm, node, `${tag}-esm`);
      checkResult(`${tag}-esm`, await runApp(node, esm, 'app.mjs', env(`${tag}-esm`, 'http/protobuf')), receiver, `${tag}-esm`, '/dist/index.js', true, true);
      done(`esm, embedded SDK and a tracer provider, OTLP http/protobuf with exemplars, runtime health (instrumentation-runtime-node ${installedVersion(esm, '@opentelemetry/instrumentation-runtime-node')})`, esm);

      const cjs = makeApp(base, `${tag}-cjs`, 'commonjs', { ...self, '@opentelemetry/exporter-metrics-otlp-http': sdk3 ? '^0.301.0' : '^0.223.0', ...traceSdk }, ['app.cjs', 'exercise.cjs']);
      install(cjs, node);
      assertSingleCopies(cjs, node, `${tag}-cjs`);
      checkResult(`${tag}-cjs`, await runApp(node, cjs, 'app.cjs', env(`${tag}-cjs`, 'http/json')), receiver, `${tag}-cjs`, '/dist/cjs/index.js', false, true);
      done('commonjs, embedded SDK and a tracer provider, OTLP http/json with exemplars', cjs);

      const missing = await runApp(node, cjs, 'app.cjs', { ...env(`${tag}-missing`, 'grpc'), EXPECT_MISSING: '@opentelemetry/exporter-metrics-otlp-grpc' });
      assert.equal(missing['code'], 'DYN_ERR_MISSING_PACKAGE', `${tag}-missing: ${JSON.stringify(missing)}`);
      assert.equal(missing['isDynamoError'], true);
      assert.match(String(missing['message']), /npm install @opentelemetry\/exporter-metrics-otlp-grpc @grpc\/grpc-js/);
      checked.push({ app: 'commonjs, OTLP grpc without its exporter: DYN_ERR_MISSING_PACKAGE', node: node.version, sdkMetrics: installedVersion(cjs, '@opentelemetry/sdk-metrics'), api: installedVersion(cjs, '@opentelemetry/api') });
      const noHealth = await runApp(node, cjs, 'app.cjs', { ...env(`${tag}-missing-health`, 'http/json'), DYN_RUNTIME_METRICS: 'true', EXPECT_MISSING: '@opentelemetry/instrumentation-runtime-node' });
      assert.equal(noHealth['code'], 'DYN_ERR_MISSING_PACKAGE', `${tag}-missing-health: ${JSON.stringify(noHealth)}`);
      assert.match(String(noHealth['message']), /npm install @opentelemetry\/instrumentation-runtime-node @opentelemetry\/instrumentation-host-metrics/);
      checked.push({ app: 'commonjs, DYN_RUNTIME_METRICS=true without its packages: DYN_ERR_MISSING_PACKAGE', node: node.version, sdkMetrics: installedVersion(cjs, '@opentelemetry/sdk-metrics'), api: installedVersion(cjs, '@opentelemetry/api') });

      // As an sdk-node app declares them: sdk-node and, for the reader and exporter it builds
      // itself, the sdk-metrics and exporter versions that sdk-node release pins.
      const [sdkNode, sdkMetrics] = sdk3 ? ['0.301.0', '3.1.0'] : ['0.223.0', '2.12.0'];
      const sdk = makeApp(base, `${tag}-sdk`, 'module', { ...self, '@opentelemetry/sdk-node': sdkNode, '@opentelemetry/sdk-metrics': sdkMetrics, '@opentelemetry/exporter-metrics-otlp-proto': sdkNode }, ['sdk-app.mjs', 'exercise.cjs']);
      install(sdk, node);
      assertSingleCopies(sdk, node, `${tag}-sdk`);
      checkResult(`${tag}-sdk`, await runApp(node, sdk, 'sdk-app.mjs', env(`${tag}-sdk`, 'http/protobuf')), receiver, `${tag}-sdk`, '/dist/index.js');
      done(`sdk-node ${installedVersion(sdk, '@opentelemetry/sdk-node')}, meterProvider 'global'`, sdk);
    }

    // Types: resolution modes × TypeScript 5.0 and the repository's TypeScript.
    const typesNode = nodes[0]!;
    const ts = makeApp(base, 'types', 'module', { ...self, typescript: '5.0.4', '@types/node': '^20.0.0' }, ['types.ts']);
    install(ts, typesNode);
    mkdirSync(join(ts, 'cjs'));
    cpSync(join(fixtures, 'types.ts'), join(ts, 'cjs', 'types.ts'));
    writeFileSync(join(ts, 'cjs', 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
    const modes = [
      { name: 'node16 (ESM)', module: 'node16', moduleResolution: 'node16', file: 'types.ts' },
      { name: 'node16 (CommonJS)', module: 'node16', moduleResolution: 'node16', file: 'cjs/types.ts' },
      { name: 'nodenext (ESM)', module: 'nodenext', moduleResolution: 'nodenext', file: 'types.ts' },
      { name: 'nodenext (CommonJS)', module: 'nodenext', moduleResolution: 'nodenext', file: 'cjs/types.ts' },
      { name: 'bundler', module: 'esnext', moduleResolution: 'bundler', file: 'types.ts' },
    ];
    const compilers = [
      { version: installedVersion(ts, 'typescript'), tsc: join(ts, 'node_modules', 'typescript', 'bin', 'tsc') },
      { version: installedVersion(root, 'typescript'), tsc: join(root, 'node_modules', 'typescript', 'bin', 'tsc') },
    ];
    for (const mode of modes) {
      const config = `tsconfig.${mode.name.replace(/\W+/g, '-')}json`;
      for (const compiler of compilers) {
        // Checking every declaration file (skipLibCheck off) costs ≈ 20 s a run here: done for the
        // two Node modes on the current TypeScript and for node16 (ESM) on 5.0. The other runs
        // still check the app against our declarations, with their exports resolved.
        const deep = compiler === compilers[0] ? mode.name === 'node16 (ESM)' : mode.moduleResolution === 'nodenext';
        const compilerOptions = { module: mode.module, moduleResolution: mode.moduleResolution, target: 'es2022', strict: true, noEmit: true, skipLibCheck: !deep, types: ['node'] };
        writeFileSync(join(ts, config), JSON.stringify({ compilerOptions, files: [mode.file] }));
        const check = spawnSync(typesNode.path, [compiler.tsc, '-p', config], { cwd: ts, encoding: 'utf8' });
        // Every error counts, except — under TypeScript 5.0 only — those inside other packages'
        // declarations (nats.js's use `Uint8Array<…>`, which needs TypeScript ≥ 5.7): ours and the
        // app's must be clean everywhere, with skipLibCheck off.
        const errors = check.stdout.split('\n').filter((line) => /error TS\d+/.test(line));
        const counted = compiler === compilers[0] ? errors.filter((line) => !line.startsWith('node_modules/') || line.startsWith('node_modules/dynamo-otel/')) : errors;
        assert.deepEqual(counted, [], `TypeScript ${compiler.version}, ${mode.name}: ${check.stdout}${check.stderr}`);
        if (check.status !== 0 && counted.length === errors.length) throw new Error(`tsc failed: ${check.stdout}${check.stderr}`);
        checked.push({ app: `TypeScript ${compiler.version}, moduleResolution ${mode.name}: type-checks${deep ? ' (skipLibCheck off)' : ''}`, node: typesNode.version, sdkMetrics: installedVersion(ts, '@opentelemetry/sdk-metrics'), api: installedVersion(ts, '@opentelemetry/api') });
      }
    }
  } finally {
    await receiver.stop();
    await nats.stop();
    rmSync(base, { recursive: true, force: true });
  }
  console.log('consumer: every app passed');
  for (const c of checked) console.log(`  ✔ ${c.node.padEnd(9)} sdk-metrics ${c.sdkMetrics.padEnd(7)} api ${c.api.padEnd(7)} ${c.app}`);
}

await main();
