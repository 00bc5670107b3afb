/** The rules that place a page's code blocks, on small pages written here (pure logic: no compiler, no NATS). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPage, extractBlocks } from './doc-programs.ts';

const fence = '```';

describe('doc programs', () => {
  it('extracts blocks with their language, attributes, code and first code line', () => {
    const page = ['# T', '', `${fence}ts run`, 'const a = 1;', 'console.log(a);', fence, 'text', `${fence}sh`, 'npm test', fence].join('\n');
    const blocks = extractBlocks(page);
    assert.deepEqual(
      blocks.map((block) => ({ language: block.language, attributes: [...block.attributes], code: block.code, line: block.line })),
      [
        { language: 'ts', attributes: ['run'], code: 'const a = 1;\nconsole.log(a);', line: 4 },
        { language: 'sh', attributes: [], code: 'npm test', line: 9 },
      ],
    );
  });

  it('a longer fence holds a shorter one inside it', () => {
    const blocks = extractBlocks(['````md', `${fence}ts`, 'x', fence, '````'].join('\n'));
    assert.deepEqual(blocks.map((block) => block.code), [`${fence}ts\nx\n${fence}`]);
  });

  it('joins `continue` blocks to the module before them, maps lines back to the page, and collects the output', () => {
    const page = [
      `${fence}ts run`, // 1
      'const a = 1;', // 2
      fence, // 3
      'prose', // 4
      `${fence}ts continue`, // 5
      'console.log(a);', // 6
      fence, // 7
      `${fence}text output`, // 8
      '1', // 9
      fence, // 10
      `${fence}ts`, // 11
      'export {};', // 12
      fence, // 13
    ].join('\n');
    const { programs, fragments, problems } = checkPage('p.md', page);
    assert.deepEqual(problems, []);
    assert.deepEqual(fragments, []);
    assert.deepEqual(
      programs.map((program) => ({ run: program.run, source: program.source, lineMap: program.lineMap, expectedOutput: program.expectedOutput })),
      [
        { run: true, source: 'const a = 1;\nconsole.log(a);\n', lineMap: [2, 6], expectedOutput: '1\n' },
        { run: false, source: 'export {};\n', lineMap: [12], expectedOutput: undefined },
      ],
    );
  });

  it('refuses every block it cannot place, naming the page line of its fence', () => {
    const page = [
      fence, // 1: no language
      'x',
      fence,
      `${fence}js`, // 4: code that is not TypeScript
      'x',
      fence,
      `${fence}ts continue`, // 7: nothing to continue
      'x',
      fence,
      `${fence}ts fragmnet`, // 10: a typo must not skip the block
      'x',
      fence,
      `${fence}ts run`, // 13: run without output
      'x',
      fence,
      `${fence}ts`, // 16
      'x',
      fence,
      `${fence}text output`, // 19: output of a program that does not run
      'x',
      fence,
      `${fence}cobol`, // 22
      'x',
      fence,
      `${fence}ts fragment run`, // 25
      'x',
      fence,
    ].join('\n');
    assert.deepEqual(checkPage('p.md', page).problems, [
      'p.md:1: a code block without a language; say what it is (```ts, ```sh, ```text …)',
      'p.md:4: only TypeScript blocks are checked; write it as ```ts, or mark it ```js fragment',
      'p.md:7: `continue` with no TypeScript block before it on the page',
      'p.md:10: unknown attribute fragmnet (known: fragment, continue, run)',
      'p.md:22: unknown language `cobol` (add it to the rules in test/docs/doc-programs.ts if it is not code)',
      'p.md:25: a fragment is neither run nor continued',
      'p.md:13: a `run` program needs a ```text output block after it: what it prints',
      'p.md:19: `text output` after a program that is not marked `run`',
    ]);
  });

  it('keeps fragments apart from programs', () => {
    const { programs, fragments } = checkPage('p.md', [`${fence}ts fragment`, 'client.generate(request, { signal })', fence].join('\n'));
    assert.deepEqual(programs, []);
    assert.deepEqual(fragments.map((block) => block.code), ['client.generate(request, { signal })']);
  });
});
