/**
 * Checks doc programs the way an application meets them. The work directory gets its own
 * `node_modules/dynamo-otel`: the real package.json (so its `exports` map decides what resolves),
 * the declaration files `tsc -p tsconfig.build.json` emits (so only what the published types
 * expose type-checks), and, where the entry point's JavaScript would be, a one-line module that
 * re-exports the sources for tsx to run. Programs are type-checked with a strict application
 * tsconfig and run with `node --import tsx`. Each caller gets its own work directory (test files
 * run concurrently).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import type { DocProgram } from './doc-programs.ts';

export const root = fileURLToPath(new URL('../../', import.meta.url));
const RUN_DEADLINE_MS = 60_000;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class DocChecker {
  /** Inside the repository so that packages resolve from its node_modules, as in an application. */
  readonly workDir: string;
  private readonly files = new Map<string, DocProgram>();

  constructor(name: string, programs: readonly DocProgram[]) {
    this.workDir = join(root, '.tmp', name);
    for (const program of programs) this.files.set(join(this.workDir, fileName(program)), program);
  }

  /** What an application's tsconfig would say (strict, as `tsc --init` now writes). */
  private config(): object {
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
      },
    };
  }

  /** The package as installed: package.json, emitted declarations, and a runnable entry point. */
  private install(): void {
    const packageDir = join(this.workDir, 'node_modules', 'dynamo-otel');
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports?: unknown; main?: string };
    mkdirSync(packageDir, { recursive: true });
    writeFileSync(join(packageDir, 'package.json'), JSON.stringify(manifest, null, 2));

    const build = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.build.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
    if (build === undefined) throw new Error('tsconfig.build.json cannot be read');
    const outDir = join(packageDir, relative(root, build.options.outDir ?? join(root, 'dist')));
    const emit = ts
      .createProgram(build.fileNames, { ...build.options, outDir, declaration: true, emitDeclarationOnly: true, noEmit: false, declarationMap: false, sourceMap: false })
      .emit();
    if (emit.emitSkipped) throw new Error('the declaration files could not be emitted');

    const entry = importTarget(manifest.exports) ?? manifest.main;
    if (entry === undefined) throw new Error('package.json names no entry point for import');
    const entryFile = join(packageDir, entry);
    mkdirSync(dirname(entryFile), { recursive: true });
    writeFileSync(entryFile, `export * from ${JSON.stringify(relative(dirname(entryFile), join(root, 'src', 'index.ts')))};\n`);
  }

  /** Writes the programs, a package.json (ESM) and the tsconfig. */
  prepare(): void {
    this.cleanup();
    mkdirSync(this.workDir, { recursive: true });
    writeFileSync(join(this.workDir, 'tsconfig.json'), JSON.stringify(this.config(), null, 2));
    writeFileSync(join(this.workDir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    this.install();
    for (const [file, program] of this.files) writeFileSync(file, program.source);
  }

  cleanup(): void {
    rmSync(this.workDir, { recursive: true, force: true });
  }

  /** Type-checks every program in one TypeScript program; returns the errors as `page:line: message`. */
  typeCheck(): string[] {
    const parsed = ts.parseJsonConfigFileContent(this.config(), ts.sys, this.workDir, undefined, join(this.workDir, 'tsconfig.json'));
    const program = ts.createProgram([...this.files.keys()], parsed.options);
    return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ');
      const file = diagnostic.file;
      if (file === undefined) return message;
      const { line } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      const docProgram = this.files.get(file.fileName);
      if (docProgram === undefined) return `${relative(root, file.fileName)}:${line + 1}: ${message}`;
      return `${docProgram.page}:${docProgram.lineMap[line] ?? '?'}: ${message}`;
    });
  }

  /** Runs one program as `node --import tsx`, with only the environment a reader would set. */
  run(program: DocProgram, env: { NATS_SERVER: string; METRICS_PORT: string }): Promise<RunResult> {
    const file = join(this.workDir, fileName(program));
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', file], {
        cwd: this.workDir,
        env: {
          PATH: process.env['PATH'] ?? '',
          HOME: process.env['HOME'] ?? '',
          ...env,
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
}

function fileName(program: DocProgram): string {
  const first = program.blocks[0];
  return `${program.page.replace(/[^A-Za-z0-9]+/g, '-')}-line-${first === undefined ? 0 : first.line - 1}.mts`;
}

/** The file `import 'dynamo-otel'` loads, from the package's `exports` map (`.` → `import`/`node`/`default`). */
function importTarget(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports;
  if (exports === null || typeof exports !== 'object') return undefined;
  const conditions = exports as Record<string, unknown>;
  if ('.' in conditions) return importTarget(conditions['.']);
  for (const condition of ['import', 'node', 'default']) {
    const target = importTarget(conditions[condition]);
    if (target !== undefined) return target;
  }
  return undefined;
}
