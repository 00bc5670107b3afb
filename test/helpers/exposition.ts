/**
 * A strict parser for Prometheus text format 0.0.4, for tests: it rejects what Prometheus and
 * promtool reject (repeated HELP/TYPE, samples of a family split apart, malformed lines) so
 * tests can assert on structure and exact values.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: string;
  samples: Sample[];
}

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
const SUFFIXES = ['_bucket', '_sum', '_count'];

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  const closed = new Set<string>();
  const familyOf = (sampleName: string): Family | undefined => {
    if (current === undefined) return undefined;
    if (sampleName === current.name) return current;
    if (current.type === 'histogram' && SUFFIXES.some((s) => sampleName === current!.name + s)) return current;
    return undefined;
  };
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name, rest] = meta as unknown as [string, 'HELP' | 'TYPE', string, string];
      if (current?.name !== name) {
        if (families.has(name)) throw new Error(`line ${i + 1}: second ${kind} for ${name}`);
        if (current !== undefined) closed.add(current.name);
        current = { name, help: '', type: 'untyped', samples: [] };
        families.set(name, current);
      } else if (kind === 'HELP' ? current.help !== '' : current.type !== 'untyped') {
        throw new Error(`line ${i + 1}: second ${kind} line for metric name ${name}`);
      }
      if (kind === 'HELP') current.help = unescapeHelp(rest);
      else current.type = rest;
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE_RE.exec(line);
    if (m === null) throw new Error(`line ${i + 1}: malformed sample: ${line}`);
    const family = familyOf(m[1]!);
    if (family === undefined) throw new Error(`line ${i + 1}: sample ${m[1]} outside its family block`);
    family.samples.push({ name: m[1]!, labels: parseLabels(m[3] ?? '', i + 1), value: parseValue(m[4]!, i + 1) });
  }
  return families;
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let pos = 0;
  while (pos < text.length) {
    const name = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(text.slice(pos));
    if (name === null) throw new Error(`line ${line}: bad label at ${text.slice(pos)}`);
    pos += name[0].length;
    let value = '';
    for (;;) {
      const c = text[pos];
      if (c === undefined) throw new Error(`line ${line}: unterminated label value`);
      pos++;
      if (c === '"') break;
      if (c === '\\') {
        const e = text[pos++];
        value += e === 'n' ? '\n' : e === '\\' ? '\\' : e === '"' ? '"' : `\\${e}`;
      } else {
        value += c;
      }
    }
    if (name[1]! in labels) throw new Error(`line ${line}: duplicate label ${name[1]}`);
    labels[name[1]!] = value;
    if (text[pos] === ',') pos++;
  }
  return labels;
}

function parseValue(text: string, line: number): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const v = Number(text);
  if (Number.isNaN(v)) throw new Error(`line ${line}: bad value ${text}`);
  return v;
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(n|\\)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** The value of the one sample of `name` whose labels include all of `labels`. */
export function sampleValue(families: Map<string, Family>, family: string, sample: string, labels: Record<string, string>): number {
  const fam = families.get(family);
  if (fam === undefined) throw new Error(`no family ${family}`);
  const hits = fam.samples.filter((s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length !== 1) throw new Error(`${hits.length} samples of ${sample} match ${JSON.stringify(labels)}`);
  return hits[0]!.value;
}
