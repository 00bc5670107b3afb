/**
 * Sums a V8 `.cpuprofile` (from `node --cpu-prof`) by function: self time and its share, the
 * heaviest first, with where the function lives (file name and line); then the same by file.
 * Shares are of the busy time (everything but `(idle)`): what the process spent working.
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=40]
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, top = '40'] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<string, number>();
const byFile = new Map<string, number>();
let total = 0;
// Each sample is charged the time delta that follows it (how V8's own tools read a profile).
profile.samples.forEach((id, i) => {
  const us = profile.timeDeltas[i + 1] ?? 0;
  const frame = byId.get(id)!.callFrame;
  const key = `${frame.functionName || '(anonymous)'}  ${frame.url ? `${basename(frame.url)}:${frame.lineNumber + 1}` : ''}`;
  self.set(key, (self.get(key) ?? 0) + us);
  const where = frame.url ? basename(frame.url).replace(/\?.*$/, '') : `(${frame.functionName || 'native'})`;
  byFile.set(where, (byFile.get(where) ?? 0) + us);
  total += us;
});
const idle = byFile.get('((idle))') ?? 0;
const busy = total - idle;
const line = (us: number, what: string): string => `${((100 * us) / busy).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms  ${what}`;
const rows = [...self].filter(([key]) => !key.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, Number(top));
console.log(`total ${(total / 1000).toFixed(0)} ms sampled, ${(busy / 1000).toFixed(0)} ms busy (the shares below are of this)`);
for (const [key, us] of rows) console.log(line(us, key));
console.log('\nby file');
for (const [where, us] of [...byFile].filter(([where]) => where !== '((idle))').sort((a, b) => b[1] - a[1]).slice(0, Number(top))) console.log(line(us, where));
