/**
 * Documentation that runs as written. Every TypeScript block of README.md and docs/*.md is
 * type-checked, strictly, as an application importing 'dynamo-otel' sees it; programs marked `run`
 * are executed against a real nats-server and must print exactly their `text output` blocks.
 *
 * The rules for writers (also in docs/README.md):
 *   ```ts            a module of its own: it imports what it uses.
 *   ```ts continue   continues the TypeScript block before it on the page: one module, one run.
 *   ```ts run        (on any block of a module) runs the module; NATS_SERVER points at a fresh
 *                    nats-server, METRICS_PORT at a free port. It must end by itself, exit 0 and
 *                    print exactly the ```text output blocks that follow its blocks.
 *   ```ts fragment   deliberately not a program (a signature, an excerpt): parsed for syntax only.
 *   ```sh/```text/```yaml/```json/…  not code we check; a block with no language fails.
 * A block the rules cannot place fails the test: nothing is skipped silently.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import ts from 'typescript';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { freePort } from '../helpers/tools.ts';
import { checkPage, type DocProgram } from './doc-programs.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
// Inside the repository so that packages resolve from its node_modules, as in an application.
const workDir = join(root, '.tmp', 'docs-programs');
const RUN_DEADLINE_MS = 60_000;

function pages(): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

/** What an application's tsconfig would say (strict, as `tsc --init` now writes), with the package mapped to its source. */
function consumerConfig(): object {
  return {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2022'],
      types: ['node'],
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      skipLibCheck: true,
      noEmit: true,
      // The package's own sources import each other with `.ts` extensions.
      allowImportingTsExtensions: true,
      paths: { 'dynamo-otel': [relative(workDir, join(root, 'src', 'index.ts'))] },
    },
  };
}

function fileName(program: DocProgram): string {
  const first = program.blocks[0];
  return `${program.page.replace(/[^A-Za-z0-9]+/g, '-')}-line-${first === undefined ? 0 : first.line - 1}.mts`;
}

interface Collected {
  programs: DocProgram[];
  problems: string[];
  fragments: number;
}

function collect(): Collected {
  const programs: DocProgram[] = [];
  const problems: string[] = [];
  let fragments = 0;
  for (const page of pages()) {
    const result = checkPage(page, readFileSync(join(root, page), 'utf8'));
    programs.push(...result.programs);
    problems.push(...result.problems);
    for (const fragment of result.fragments) {
      fragments++;
      const parsed = ts.createSourceFile('fragment.mts', fragment.code, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
      for (const diagnostic of (parsed as unknown as { parseDiagnostics: ts.Diagnostic[] }).parseDiagnostics) {
        const line = parsed.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line;
        problems.push(`${page}:${fragment.line + line}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`);
      }
    }
  }
  return { programs, problems, fragments };
}

/** Type-checks every program in one TypeScript program; returns the errors as `page:line: message`. */
function typeCheck(programs: readonly DocProgram[]): string[] {
  const configPath = join(workDir, 'tsconfig.json');
  const parsed = ts.parseJsonConfigFileContent(consumerConfig(), ts.sys, workDir, undefined, configPath);
  const byFile = new Map(programs.map((program) => [join(workDir, fileName(program)), program]));
  const program = ts.createProgram([...byFile.keys()], parsed.options);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ');
    const file = diagnostic.file;
    if (file === undefined) return message;
    const { line } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    const docProgram = byFile.get(file.fileName);
    if (docProgram === undefined) return `${relative(root, file.fileName)}:${line + 1}: ${message}`;
    return `${docProgram.page}:${docProgram.lineMap[line] ?? '?'}: ${message}`;
  });
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runProgram(program: DocProgram, nats: NatsServer, metricsPort: number): Promise<RunResult> {
  const file = join(workDir, fileName(program));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: workDir,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '',
        // tsx maps 'dynamo-otel' through the consumer tsconfig's `paths`, as tsc does above.
        TSX_TSCONFIG_PATH: join(workDir, 'tsconfig.json'),
        NATS_SERVER: nats.url,
        METRICS_PORT: String(metricsPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = setTimeout(() => child.kill('SIGKILL'), RUN_DEADLINE_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(deadline);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('documentation runs as written', () => {
  const { programs, problems, fragments } = collect();
  let nats: NatsServer;

  before(async () => {
    rmSync(workDir, { recursive: true, force: true });
    mkdirSync(workDir, { recursive: true });
    writeFileSync(join(workDir, 'tsconfig.json'), JSON.stringify(consumerConfig(), null, 2));
    writeFileSync(join(workDir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    for (const program of programs) writeFileSync(join(workDir, fileName(program)), program.source);
    nats = await startNatsServer();
  });

  after(async () => {
    await nats.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('places every code block: TypeScript is a program or an explicit fragment, every other block says its language', () => {
    assert.deepEqual(problems, []);
    // Every TypeScript fence, counted independently of the extractor, is in exactly one program or is a fragment.
    const fences = pages().reduce((sum, page) => sum + (readFileSync(join(root, page), 'utf8').match(/^\s*```(ts|typescript)\b/gm) ?? []).length, 0);
    assert.equal(programs.reduce((sum, program) => sum + program.blocks.length, 0) + fragments, fences);
    assert.notEqual(fences, 0);
  });

  it('type-checks every TypeScript program strictly, importing the package by its name', () => {
    assert.deepEqual(typeCheck(programs), []);
  });

  for (const program of programs.filter((candidate) => candidate.run)) {
    it(`runs ${program.page}:${(program.blocks[0]?.line ?? 1) - 1} against a real nats-server and prints what the page shows`, async () => {
      const result = await runProgram(program, nats, await freePort());
      assert.equal(result.code, 0, `exit ${String(result.code)}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
      assert.equal(result.stdout, program.expectedOutput);
    });
  }
});
