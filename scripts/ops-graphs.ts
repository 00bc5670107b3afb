// Renders docs/images/operations-dashboard.svg: the operations kit's main graphs, from a real run.
//
//   node --import tsx scripts/ops-graphs.ts [--seconds 150] [--out docs/images/operations-dashboard.svg]
//
// Starts a nats-server, two serving runtimes and a caller (status servers on loopback), a real
// Prometheus with the shipped rules (observability/prometheus) scraping them every second, and
// drives traffic in three phases: steady; one endpoint failing 30 % of its requests; steady again
// with a slower stream. Then it reads six of the dashboard's panels back with query_range — the
// panels' own queries, every variable at "All", a 15 s rate window as Grafana picks for a 1 s
// scrape — plus the alerts the shipped rules raised, and draws them as one SVG (no dependency).
// Needs nats-server and prometheus (Debian packages, as for `npm test`). Not part of `npm test`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DistributedRuntime } from '../src/index.ts';
import { startNatsServer } from '../test/helpers/nats-server.ts';
import { ALERTING_RULES, allPanels, concreteExpr, dashboard, RECORDING_RULES } from '../test/observability/kit.ts';
import { startRulesPrometheus } from '../test/observability/prometheus.ts';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
};
const SECONDS = Number(arg('--seconds', '150'));
const OUT = resolve(arg('--out', 'docs/images/operations-dashboard.svg'));

interface Line {
  label: string;
  points: Array<[number, number]>;
}
interface Chart {
  title: string;
  unit: 'reqps' | 'ratio' | 's' | 'bytes' | 'count';
  lines: Line[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const env = { NATS_SERVER: nats.url, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' };
  const runtimes: DistributedRuntime[] = [];
  for (let i = 0; i < 3; i++) runtimes.push(await DistributedRuntime.create({ env, handleSignals: false, logSink: () => {} }));
  const [a, b, caller] = runtimes as [DistributedRuntime, DistributedRuntime, DistributedRuntime];
  let failShare = 0;
  let streamDelayMs = 5;
  for (const rt of [a, b]) {
    const component = rt.namespace('demo').component('worker');
    await component.endpoint('generate').serve(async function* (prompt: string) {
      if (Math.random() < failShare) throw new Error('driven failure');
      for (const word of prompt.split(' ')) {
        await sleep(streamDelayMs);
        yield word;
      }
    }, { maxConcurrency: 16 });
    await component.endpoint('embed').serve(async function* (text: string) {
      await sleep(2);
      yield text.length;
    }, { maxConcurrency: 16 });
  }
  const clients = await Promise.all(['generate', 'embed'].map((name) => caller.namespace('demo').component('worker').endpoint(name).client()));
  await Promise.all(clients.map((c) => c.waitForInstances()));
  const prom = await startRulesPrometheus(runtimes.map((rt) => `127.0.0.1:${rt.systemPort}`), [RECORDING_RULES, ALERTING_RULES]);
  const start = Date.now() / 1000;
  let running = true;
  const workers = [0, 1, 2, 3].map(async (w) => {
    while (running) {
      const client = clients[w % 2]!;
      await client.generate('the quick brown fox jumps over the lazy dog').collect().catch(() => {});
      await sleep(10 + Math.random() * 20);
    }
  });
  const third = (SECONDS * 1000) / 3;
  console.log(`driving traffic for ${SECONDS} s: steady, then 30 % failures on demo/worker/generate, then a slower stream`);
  await sleep(third);
  failShare = 0.3;
  await sleep(third);
  failShare = 0;
  streamDelayMs = 40;
  await sleep(third);
  running = false;
  await Promise.all(workers);
  const end = Date.now() / 1000;

  const range = async (expr: string, label: (m: Record<string, string>) => string): Promise<Line[]> => {
    const url = `${prom.url}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${start}&end=${end}&step=2`;
    const body = (await (await fetch(url)).json()) as { data: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> } };
    return body.data.result
      .map((r) => ({ label: label(r.metric), points: r.values.map(([t, v]) => [t - start, Number(v)] as [number, number]).filter(([, v]) => Number.isFinite(v)) }))
      .sort((x, y) => x.label.localeCompare(y.label));
  };
  const board = dashboard();
  const panel = async (title: string, unit: Chart['unit']): Promise<Chart> => {
    const found = allPanels(board).find((p) => p.title === title);
    if (found === undefined) throw new Error(`no panel "${title}" in the dashboard`);
    const lines: Line[] = [];
    for (const target of found.targets ?? []) {
      const legend = target.legendFormat ?? '';
      lines.push(...(await range(concreteExpr(target.expr, '15s'), (m) => legend.replace(/\{\{(\w+)\}\}/g, (_, name: string) => m[name] ?? ''))));
    }
    return { title, unit, lines };
  };
  const charts: Chart[] = [
    await panel('Requests per second, by endpoint', 'reqps'),
    await panel('Error ratio, by endpoint', 'ratio'),
    await panel('Request duration (whole stream)', 's'),
    await panel('Errors per second, by error_type', 'reqps'),
    await panel('Event-loop delay p99', 's'),
    {
      title: 'Alerts raised by the shipped rules (1 = pending or firing)',
      unit: 'count',
      lines: await range('max by (alertname, dynamo_endpoint) (ALERTS)', (m) => `${m['alertname'] ?? ''} ${m['dynamo_endpoint'] ?? ''}`.trim()),
    },
  ];
  await prom.stop();
  for (const rt of runtimes) await rt.shutdown();
  await nats.stop();

  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, render(charts, end - start));
  console.log(`wrote ${OUT}`);
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const W = 460;
const H = 220;
const PAD = { left: 58, right: 12, top: 28, bottom: 62 };

function format(value: number, unit: Chart['unit']): string {
  if (unit === 'ratio') return `${(value * 100).toFixed(value < 0.1 ? 1 : 0)}%`;
  if (unit === 's') return value < 1 ? `${(value * 1000).toFixed(value < 0.01 ? 1 : 0)} ms` : `${value.toFixed(1)} s`;
  return value >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function chart(c: Chart, x0: number, y0: number, seconds: number): string {
  const max = Math.max(...c.lines.flatMap((l) => l.points.map(([, v]) => v)), c.unit === 'ratio' ? 0.01 : 1e-9);
  const top = max * 1.1;
  const px = (t: number) => x0 + PAD.left + (t / seconds) * (W - PAD.left - PAD.right);
  const py = (v: number) => y0 + PAD.top + (1 - v / top) * (H - PAD.top - PAD.bottom);
  let out = `<rect x="${x0}" y="${y0}" width="${W}" height="${H}" fill="#fff" stroke="#ddd"/>`;
  out += `<text x="${x0 + 10}" y="${y0 + 18}" font-size="13" font-weight="bold">${escapeXml(c.title)}</text>`;
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    out += `<line x1="${px(0)}" x2="${px(seconds)}" y1="${py(v)}" y2="${py(v)}" stroke="#eee"/>`;
    out += `<text x="${x0 + PAD.left - 4}" y="${py(v) + 4}" font-size="10" text-anchor="end" fill="#555">${escapeXml(format(v, c.unit))}</text>`;
  }
  for (let t = 0; t <= seconds; t += 30) out += `<text x="${px(t)}" y="${y0 + H - PAD.bottom + 14}" font-size="10" text-anchor="middle" fill="#555">${t}s</text>`;
  c.lines.forEach((line, i) => {
    const color = COLORS[i % COLORS.length]!;
    if (line.points.length > 0) out += `<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${line.points.map(([t, v]) => `${px(t).toFixed(1)},${py(v).toFixed(1)}`).join(' ')}"/>`;
    // Two legend columns when the labels are short, one when they are not.
    const columns = c.lines.some((l) => l.label.length > 28) ? 1 : 2;
    const lx = x0 + PAD.left + (i % columns) * 190;
    const ly = y0 + H - PAD.bottom + 30 + Math.floor(i / columns) * 14;
    out += `<rect x="${lx}" y="${ly - 8}" width="10" height="3" fill="${color}"/><text x="${lx + 14}" y="${ly - 4}" font-size="10">${escapeXml(line.label)}</text>`;
  });
  if (c.lines.length === 0) out += `<text x="${x0 + W / 2}" y="${y0 + H / 2}" font-size="12" text-anchor="middle" fill="#999">no data</text>`;
  return out;
}

function render(charts: Chart[], seconds: number): string {
  const cols = 2;
  const rows = Math.ceil(charts.length / cols);
  const width = cols * W + (cols + 1) * 10;
  const height = rows * H + (rows + 1) * 10 + 30;
  let body = `<text x="10" y="24" font-size="15" font-weight="bold">dynamo-otel dashboard panels, one real run: steady · 30 % failures on generate · slower stream</text>`;
  charts.forEach((c, i) => {
    body += chart(c, 10 + (i % cols) * (W + 10), 40 + Math.floor(i / cols) * (H + 10), seconds);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="#f7f7f7"/>${body}</svg>\n`;
}

await main();
