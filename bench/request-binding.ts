/**
 * What binding a request to its requester costs (protocol 2, docs/protocol.md), per request, in
 * process, side by side in one run: the requester's secret, key and tag, the server's proof check,
 * the bounded header read, and the whole request parse — against the same parse without the proof
 * check (what protocol 1 did) and against one echo through the request plane (bench/request-plane.ts).
 *
 * Run: npm run bench:request-binding   (BENCH_N=200000 BENCH_ROUNDS=9)
 */
import { connect, headers, type Msg } from '@nats-io/transport-node';
import { readHeaders } from '../src/transport/message-headers.ts';
import { parseRequest } from '../src/transport/request-parser.ts';
import { keyOf, newRequestSecret, tagOf } from '../src/transport/request-secret.ts';
import { startNatsServer } from '../test/helpers/nats-server.ts';
import { printTable, stats, type Row } from './common.ts';

const N = Number(process.env['BENCH_N'] ?? 200_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 9);
const SUBJECT = 'dynamo.bench.echo.echo';
const body = new TextEncoder().encode(JSON.stringify('x'.repeat(98))); // the 100-byte echo request

// One real request message, as the server receives it, to parse again and again.
const nats = await startNatsServer();
const nc = await connect({ servers: nats.url });
const { key } = newRequestSecret();
const tag = tagOf(key, SUBJECT, 'application/json', body);
const h = headers();
h.set('Dynamo-Protocol', '2');
h.set('Dynamo-Request-Id', 'AbCdEfGhIjKlMnOpQrStUv-1a');
h.set('Dynamo-Key', key);
h.set('Dynamo-Content-Type', 'application/json');
h.set('Dynamo-Window', '128');
const received = new Promise<Msg>((resolve) => nc.subscribe(SUBJECT, { max: 1, callback: (_e, m) => resolve(m) }));
await nc.flush();
nc.publish(SUBJECT, body, { reply: `_INBOX.bench.${tag}`, headers: h });
const msg = await received;
const reply = msg.reply!;
const read = readHeaders(msg);
await nc.close();
await nats.stop();

let sink = 0;
const variants: Array<{ name: string; run: (n: number) => void }> = [
  {
    name: 'requester: secret, key and tag',
    run: (n) => {
      for (let i = 0; i < n; i++) sink += tagOf(newRequestSecret().key, SUBJECT, 'application/json', body).length;
    },
  },
  {
    name: 'server: the proof check (tag of key, endpoint, body)',
    run: (n) => {
      for (let i = 0; i < n; i++) sink += tagOf(key, SUBJECT, 'application/json', body).length;
    },
  },
  {
    name: 'server: a cancel (key of the secret)',
    run: (n) => {
      for (let i = 0; i < n; i++) sink += keyOf('0b4c4a3e-8c62-4f45-9d2a-6b1f1e2d3c4b').length;
    },
  },
  {
    name: 'server: bounded header read (a fresh message each time)',
    run: (n) => {
      // readHeaders on a message whose headers are not decoded yet: the scan plus nats.js's decode
      const raw = msg as unknown as { _headers?: unknown };
      for (let i = 0; i < n; i++) {
        raw._headers = undefined;
        const r = readHeaders(msg);
        sink += r.ok ? 1 : 0;
      }
    },
  },
  {
    name: 'server: whole request parse (protocol 2)',
    run: (n) => {
      for (let i = 0; i < n; i++) sink += parseRequest(msg.data, reply, read, SUBJECT).ok ? 1 : 0;
    },
  },
  {
    name: 'server: whole parse, proof check skipped (protocol 1 did no more)',
    run: (n) => {
      // the same parse aimed at a reply subject the server refuses before the proof: everything else is done
      for (let i = 0; i < n; i++) sink += parseRequest(msg.data, '', read, SUBJECT).ok ? 1 : 0;
    },
  },
];

const rows: Row[] = [];
for (const v of variants) {
  v.run(Math.min(N, 20_000));
  const samples: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = process.hrtime.bigint();
    v.run(N);
    samples.push(Number(process.hrtime.bigint() - t0) / N / 1000);
  }
  rows.push({ name: v.name, stats: stats(samples) });
}
printTable(`Binding a request to its requester: ${N.toLocaleString()} × ${ROUNDS} rounds, 100-byte body`, 'µs/req', rows, 'server: whole request parse (protocol 2)');
if (sink === -1) console.log(sink);
