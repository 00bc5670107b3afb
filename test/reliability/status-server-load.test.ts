import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { connect as tcp, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime, type EndpointClient } from '../../src/index.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';
import { withDeadline } from '../helpers/wait.ts';

const SCRAPERS = 50;
/** Requests sent while the scrapers scrape; raise it (`LOAD_REQUESTS=…`) for a longer soak. */
const REQUESTS = Number(process.env['LOAD_REQUESTS'] ?? 512);
/** Scrapes each scraper makes at least. */
const MIN_SCRAPES = 10;
const BATCH = 16;

/**
 * One HTTP request, as a scraper makes it. A keep-alive socket the server closes as idle
 * (`keepAliveTimeout`) just as the next request goes out on it is reset: like Prometheus's HTTP
 * client (and as Node's docs advise, `request.reusedSocket`), a GET that failed that way on a
 * reused socket is sent once more on a fresh one. On a loaded machine a scraper can sit idle that
 * long between two scrapes (test:loaded saw it).
 */
function get(port: number, path: string, agent?: Agent, method = 'GET', headers: Record<string, string> = {}, retried = false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, ...(agent === undefined ? {} : { agent }) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!retried && req.reusedSocket && err.code === 'ECONNRESET' && (method === 'GET' || method === 'HEAD')) {
        resolve(get(port, path, agent, method, headers, true));
      } else {
        reject(err);
      }
    });
    req.end();
  });
}

/** Sends raw bytes and returns the status line the server answers ('' when it just closes). */
function rawHttp(port: number, send: (socket: Socket) => void): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const socket = tcp({ host: '127.0.0.1', port }, () => send(socket));
    socket.on('data', (d) => (data += d.toString()));
    socket.on('error', () => {});
    socket.on('close', () => resolve(data.split('\r\n')[0] ?? ''));
  });
}

describe('status server under load and attack', () => {
  let nats: NatsServer;
  let server: DistributedRuntime;
  let clientRt: DistributedRuntime;
  let client: EndpointClient;
  let port: number;

  before(async () => {
    nats = await startNatsServer();
    server = await DistributedRuntime.create({
      env: { NATS_SERVER: nats.url, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' },
      handleSignals: false,
      logSink: () => {},
    });
    clientRt = await DistributedRuntime.create({ env: { NATS_SERVER: nats.url }, handleSignals: false, logSink: () => {} });
    port = server.systemPort!;
    const comp = server.namespace('ns').component('c');
    for (let i = 0; i < 20; i++) await comp.endpoint(`e${i}`).serve((x: number) => x + 1);
    client = await clientRt.namespace('ns').component('c').endpoint('e0').client();
    await client.waitForInstances();
  });
  after(async () => {
    await client.close();
    await clientRt.shutdown();
    await server.shutdown();
    await nats.stop();
  });

  // No speed is asserted here (that is bench/scrape.ts): the load is a fixed amount of work, and
  // what is checked is structure — every scrape whole and valid, counters monotonic per scraper,
  // scrapes interleaved with serving, and the final count exact.
  it(`${SCRAPERS} concurrent scrapers while ${REQUESTS} requests flow: every scrape complete and valid, counters never decrease, the total exact`, async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: SCRAPERS });
    const before = sampleValue(parseExposition((await get(port, '/metrics')).body), 'dynamo_component_requests_total', 'dynamo_component_requests_total', { dynamo_endpoint: 'e0' });
    let served = 0;
    let loadDone = false;
    const load = (async () => {
      try {
        while (served < REQUESTS) {
          const got = await Promise.all(Array.from({ length: BATCH }, (_, i) => client.generate<number>(i).collect()));
          for (const [i, responses] of got.entries()) assert.deepEqual(responses, [i + 1]);
          served += got.length;
        }
      } finally {
        loadDone = true;
      }
    })();
    let scrapes = 0;
    const seen = new Set<number>();
    const problems: string[] = [];
    const scraper = async (): Promise<void> => {
      let last = -1;
      // Scrape for as long as requests flow, and at least MIN_SCRAPES times.
      for (let mine = 0; !loadDone || mine < MIN_SCRAPES; mine++) {
        const { status, body } = await get(port, '/metrics', agent);
        scrapes++;
        if (status !== 200) {
          problems.push(`status ${status}`);
          continue;
        }
        try {
          const fam = parseExposition(body).get('dynamo_component_requests_total')!;
          if (fam.samples.length !== 20) problems.push(`${fam.samples.length} series`);
          const v = fam.samples.find((s) => s.labels['dynamo_endpoint'] === 'e0')!.value - before;
          if (v < last) problems.push(`requests_total went back ${last} → ${v}`);
          last = v;
          seen.add(v);
        } catch (e) {
          problems.push(`invalid exposition: ${String(e)}`);
        }
      }
    };
    await Promise.all([load, ...Array.from({ length: SCRAPERS }, scraper)]);
    agent.destroy();
    assert.deepEqual(problems, []);
    const total = Math.ceil(REQUESTS / BATCH) * BATCH;
    assert.equal(served, total);
    const after = parseExposition((await get(port, '/metrics')).body);
    assert.equal(sampleValue(after, 'dynamo_component_requests_total', 'dynamo_component_requests_total', { dynamo_endpoint: 'e0' }) - before, total);
    assert.equal(sampleValue(after, 'dynamo_component_inflight_requests', 'dynamo_component_inflight_requests', { dynamo_endpoint: 'e0' }), 0);
    // Scrapes ran while requests were being served, not only before or after them.
    assert.ok([...seen].some((v) => v > 0 && v < total), `scrapes saw only ${JSON.stringify([...seen].sort((a, b) => a - b))}`);
    console.log(`status server load: ${scrapes} scrapes by ${SCRAPERS} scrapers, ${served} requests served meanwhile, ${seen.size} distinct counts seen`);
  });

  it('answers huge URLs and headers with 431, unknown methods with 400/405, path tricks with 404', async () => {
    assert.equal((await get(port, `/metrics?${'a'.repeat(100_000)}`)).status, 431);
    assert.equal((await get(port, '/metrics', undefined, 'GET', { 'x-big': 'b'.repeat(20_000) })).status, 431);
    assert.equal((await get(port, '/metrics', undefined, 'PROPFIND')).status, 405);
    assert.equal((await get(port, '/metrics', undefined, 'DELETE')).status, 405);
    assert.equal(await rawHttp(port, (s) => s.write('BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n')), 'HTTP/1.1 400 Bad Request');
    assert.equal(await rawHttp(port, (s) => s.write('\x00\x01garbage\r\n\r\n')), 'HTTP/1.1 400 Bad Request');
    for (const path of ['/metrics/../x', '//metrics', '/metrics%00', '/%2e%2e/metrics', '/./metrics', '/metrics/', `http://127.0.0.1:${port}/x`, '/health/../metrics']) {
      assert.equal((await get(port, path)).status, 404, path);
    }
    assert.equal((await get(port, '/live')).status, 200);
  });

  it('cuts off a slowloris client within the header timeout while others are served', async () => {
    const slow = rawHttp(port, (s) => {
      s.write('GET /metrics HTTP/1.1\r\n');
      const drip = setInterval(() => (s.writable ? s.write('X-Slow: 1\r\n') : clearInterval(drip)), 300);
      s.on('close', () => clearInterval(drip));
    });
    for (let i = 0; i < 5; i++) assert.equal((await get(port, '/live')).status, 200);
    // The 408 is the header timeout's own answer: a client that drips headers forever is cut off by it.
    assert.equal(await withDeadline(slow, 'the slowloris connection closing'), 'HTTP/1.1 408 Request Timeout');
  });
});
