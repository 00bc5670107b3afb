/**
 * Regression (issue 18): docs/getting-started.md, pasted into one file as a new user would, failed
 * three ways — the client sent a string to a handler that expects `{ prompt }` (DYN_ERR_REMOTE at
 * run time), `process.stdout.write(piece)` did not compile on the `unknown` that `generate()`
 * yields, and the labels snippet used a `component` it never defined. The page's blocks as they
 * were (below, verbatim) must fail the docs check on all three counts, so a page like it cannot
 * pass again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { freePort } from '../helpers/tools.ts';
import { DocChecker } from '../docs/doc-check.ts';
import { checkPage } from '../docs/doc-programs.ts';

const fence = '```';
const page = [
  `${fence}ts run`, // 1
  "import { DistributedRuntime } from 'dynamo-otel';",
  '',
  'const runtime = await DistributedRuntime.create();',
  'const endpoint = runtime',
  "  .namespace('example_namespace')   // label dynamo_namespace",
  "  .component('example_component')   // label dynamo_component",
  "  .endpoint('example_endpoint');    // label dynamo_endpoint",
  fence, // 9
  `${fence}ts continue`, // 10
  "import { Ingress } from 'dynamo-otel';",
  '',
  'const ingress = Ingress.forEngine(async function* (request: { prompt: string }, ctx) {',
  "  for (const word of request.prompt.split(' ')) {",
  '    if (ctx.signal.aborted) return;   // the client went away',
  '    yield word;',
  '  }',
  '});',
  'await endpoint.serve(ingress);        // or endpoint.serve(handler) directly',
  fence, // 20
  `${fence}ts continue`, // 21
  "const client = await runtime.namespace('example_namespace').component('example_component').endpoint('example_endpoint').client();",
  'await client.waitForInstances();',
  "for await (const piece of client.generate('hello world')) process.stdout.write(piece);", // 24
  fence,
  `${fence}ts continue`, // 26
  "component.endpoint('generate', { labels: { model: 'qwen3-0.6b' }, durationBuckets: [0.1, 1, 10, 60] });", // 27
  fence,
  `${fence}text output`,
  'helloworld',
  fence,
].join('\n');

describe('regression: getting-started snippets that failed as written', () => {
  const { programs, problems } = checkPage('getting-started (as it was)', page);
  const checker = new DocChecker('docs-regression', programs);
  let nats: NatsServer;

  before(async () => {
    checker.prepare();
    nats = await startNatsServer();
  });

  after(async () => {
    await nats.stop();
    checker.cleanup();
  });

  it('the page is one runnable program', () => {
    assert.deepEqual(problems, []);
    assert.equal(programs.length, 1);
  });

  it('the type check names the unknown piece and the undefined component, at their page lines', () => {
    const errors = checker.typeCheck();
    // First lines exactly; the overload detail below them varies with @types/node.
    assert.deepEqual(
      errors.map((error) => error.split('\n')[0]),
      ['getting-started (as it was):24: No overload matches this call.', "getting-started (as it was):27: Cannot find name 'component'."],
    );
    assert.match(errors[0] ?? '', /Argument of type 'unknown' is not assignable to parameter of type/);
  });

  it('running it fails with the remote error the handler throws on a string request', async () => {
    const [program] = programs;
    assert.ok(program !== undefined);
    const result = await checker.run(program, { NATS_SERVER: nats.url, METRICS_PORT: String(await freePort()) });
    assert.notEqual(result.code, 0);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /DYN_ERR_REMOTE/);
    assert.match(result.stderr, /Cannot read properties of undefined \(reading 'split'\)/);
  });
});
