/** Shared by the benchmarks: machine description, statistics and the comparison table. */
import { cpus, totalmem } from 'node:os';

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu.trim()} · ${cpus().length} cores · ${(totalmem() / 2 ** 30).toFixed(0)} GiB · Node ${process.version} · ${process.platform}/${process.arch}`;
}

export interface Stats {
  median: number;
  min: number;
  max: number;
}

export function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)! };
}

export interface Row {
  name: string;
  stats: Stats;
  extra?: string;
}

/** Prints rows with their ratio to `baseline` (the row named so). */
export function printTable(title: string, unit: string, rows: Row[], baseline: string): void {
  const base = rows.find((r) => r.name === baseline)?.stats.median;
  console.log(`\n${title}\n${machine()}\n`);
  const header = ['variant', `median ${unit}`, `min ${unit}`, `max ${unit}`, `vs ${baseline}`, ''];
  const lines = rows.map((r) => [
    r.name,
    fmt(r.stats.median),
    fmt(r.stats.min),
    fmt(r.stats.max),
    base === undefined || base === 0 ? '' : `${(r.stats.median / base).toFixed(2)}×`,
    r.extra ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(row(header));
  console.log(row(widths.map((w) => '-'.repeat(w))));
  for (const l of lines) console.log(row(l));
}

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}
