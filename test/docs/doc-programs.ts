/**
 * Reads the fenced code blocks of a Markdown page and groups its TypeScript into programs, by the
 * rules in docs/README.md. Pure: text in, programs and rule violations out, so the rules themselves
 * are unit-tested without a compiler or a NATS server.
 */

/** Languages that are not code we could check: commands, output, config. Their language says so. */
const PROSE_LANGUAGES = new Set(['sh', 'bash', 'console', 'text', 'yaml', 'json', 'promql', 'http', 'md', 'markdown']);
/** Languages that are code: only TypeScript is checked, so the others must be written in it or marked. */
const TS_LANGUAGES = new Set(['ts', 'typescript']);
const OTHER_CODE_LANGUAGES = new Set(['js', 'javascript', 'mjs', 'cjs', 'jsx', 'tsx', 'mts', 'cts']);
const TS_ATTRIBUTES = new Set(['fragment', 'continue', 'run']);

export interface Block {
  /** The fence's language (first word of its info string). */
  readonly language: string;
  readonly attributes: ReadonlySet<string>;
  readonly code: string;
  /** 1-based line of the block's first code line in the page. */
  readonly line: number;
}

/** One TypeScript module: a block and the `continue` blocks after it, run as one file. */
export interface DocProgram {
  readonly page: string;
  readonly blocks: readonly Block[];
  readonly run: boolean;
  /** What the program must print on stdout: its `text output` blocks, joined. */
  readonly expectedOutput: string | undefined;
  /** The module text, and for each of its lines the page line it came from. */
  readonly source: string;
  readonly lineMap: readonly number[];
}

export interface PageCheck {
  readonly programs: readonly DocProgram[];
  readonly fragments: readonly Block[];
  /** Rule violations, each naming the page and line. */
  readonly problems: readonly string[];
}

export function extractBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i] ?? '');
    if (open === null) continue;
    const fence = open[2] ?? '```';
    const info = (open[3] ?? '').trim().split(/\s+/).filter((word) => word !== '');
    const body: string[] = [];
    let j = i + 1;
    // A closing fence is at least as long as the opening one, of the same character, with nothing after it.
    while (j < lines.length && !new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).test(lines[j] ?? '')) body.push(lines[j++] ?? '');
    blocks.push({ language: (info[0] ?? '').toLowerCase(), attributes: new Set(info.slice(1)), code: body.join('\n'), line: i + 2 });
    i = j;
  }
  return blocks;
}

/** Applies the rules to one page's blocks. `page` is the name used in messages. */
export function checkPage(page: string, markdown: string): PageCheck {
  const problems: string[] = [];
  const fragments: Block[] = [];
  const groups: Array<{ blocks: Block[]; outputs: Block[] }> = [];
  const at = (block: Block): string => `${page}:${block.line - 1}`;

  for (const block of extractBlocks(markdown)) {
    if (block.language === '') {
      problems.push(`${at(block)}: a code block without a language; say what it is (\`\`\`ts, \`\`\`sh, \`\`\`text …)`);
    } else if (TS_LANGUAGES.has(block.language)) {
      const unknown = [...block.attributes].filter((attribute) => !TS_ATTRIBUTES.has(attribute));
      if (unknown.length > 0) {
        problems.push(`${at(block)}: unknown attribute ${unknown.join(', ')} (known: ${[...TS_ATTRIBUTES].join(', ')})`);
      } else if (block.attributes.has('fragment')) {
        if (block.attributes.size > 1) problems.push(`${at(block)}: a fragment is neither run nor continued`);
        fragments.push(block);
      } else if (block.attributes.has('continue')) {
        const previous = groups.at(-1);
        if (previous === undefined) problems.push(`${at(block)}: \`continue\` with no TypeScript block before it on the page`);
        else previous.blocks.push(block);
      } else {
        groups.push({ blocks: [block], outputs: [] });
      }
    } else if (OTHER_CODE_LANGUAGES.has(block.language)) {
      if (!block.attributes.has('fragment')) {
        problems.push(`${at(block)}: only TypeScript blocks are checked; write it as \`\`\`ts, or mark it \`\`\`${block.language} fragment`);
      }
    } else if (PROSE_LANGUAGES.has(block.language)) {
      if (block.language === 'text' && block.attributes.has('output')) {
        const previous = groups.at(-1);
        if (previous === undefined) problems.push(`${at(block)}: \`text output\` with no TypeScript program before it`);
        else previous.outputs.push(block);
      }
    } else {
      problems.push(`${at(block)}: unknown language \`${block.language}\` (add it to the rules in test/docs/doc-programs.ts if it is not code)`);
    }
  }

  const programs = groups.map(({ blocks, outputs }): DocProgram => {
    const run = blocks.some((block) => block.attributes.has('run'));
    const first = blocks[0] as Block;
    if (run && outputs.length === 0) problems.push(`${at(first)}: a \`run\` program needs a \`\`\`text output block after it: what it prints`);
    if (!run && outputs.length > 0) problems.push(`${at(outputs[0] as Block)}: \`text output\` after a program that is not marked \`run\``);
    const lineMap: number[] = [];
    const parts: string[] = [];
    for (const block of blocks) {
      const codeLines = block.code.split('\n');
      codeLines.forEach((_, index) => lineMap.push(block.line + index));
      parts.push(block.code);
    }
    return {
      page,
      blocks,
      run,
      expectedOutput: outputs.length === 0 ? undefined : outputs.map((block) => `${block.code}\n`).join(''),
      source: `${parts.join('\n')}\n`,
      lineMap,
    };
  });
  return { programs, fragments, problems };
}
