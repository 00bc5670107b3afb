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
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ts from 'typescript';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { freePort } from '../helpers/tools.ts';
import { DocChecker, root } from './doc-check.ts';
import { checkPage, type DocProgram } from './doc-programs.ts';

function pages(): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
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

/** A program that must not type-check: if the package's types failed to resolve (everything `any`), it would. */
const canary = checkPage('canary', ['```ts', "import { DistributedRuntime } from 'dynamo-otel';", 'export const wrong: number = DistributedRuntime;', '```'].join('\n')).programs;

describe('documentation runs as written', () => {
  const { programs, problems, fragments } = collect();
  const checker = new DocChecker('docs-programs', [...programs, ...canary]);
  let nats: NatsServer;

  before(async () => {
    checker.prepare();
    nats = await startNatsServer();
  });

  after(async () => {
    await nats.stop();
    checker.cleanup();
  });

  it('places every code block: TypeScript is a program or an explicit fragment, every other block says its language', () => {
    assert.deepEqual(problems, []);
    // Every TypeScript fence, counted independently of the extractor, is in exactly one program or is a fragment.
    const fences = pages().reduce((sum, page) => sum + (readFileSync(join(root, page), 'utf8').match(/^\s*```(ts|typescript)\b/gm) ?? []).length, 0);
    assert.equal(programs.reduce((sum, program) => sum + program.blocks.length, 0) + fragments, fences);
    assert.notEqual(fences, 0);
  });

  it('type-checks every TypeScript program strictly, importing the package by its name', () => {
    assert.deepEqual(checker.typeCheck(), ["canary:3: Type 'typeof DistributedRuntime' is not assignable to type 'number'."]);
  });

  for (const program of programs.filter((candidate) => candidate.run)) {
    it(`runs ${program.page}:${(program.blocks[0]?.line ?? 1) - 1} against a real nats-server and prints what the page shows`, async () => {
      const result = await checker.run(program, { NATS_SERVER: nats.url, METRICS_PORT: String(await freePort()) });
      assert.equal(result.code, 0, `exit ${String(result.code)}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
      assert.equal(result.stdout, program.expectedOutput);
    });
  }
});
