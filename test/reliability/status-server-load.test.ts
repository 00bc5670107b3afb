import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { connect as tcp, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DistributedRuntime, type EndpointClient } from '../../src/index.ts';
import { parseExposition } from '../helpers/exposition.ts';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts';

const SCRAPERS = 50;
const SECONDS = Number(process.env['LOAD_SECONDS'] ?? 10);

function get(port: number, path: string, agent?: Agent, method = 'GET', headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, ...(agent === undefined ? {} : { agent }) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends raw bytes and returns the status line the server answers (or '' when it just closes), and how long it took. */
function rawHttp(port: number, send: (socket: Socket) => void): Promise<{ statusLine: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let data = '';
    const socket = tcp({ host: '127.0.0.1', port }, () => send(socket));
    socket.on('data', (d) => (data += d.toString()));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ statusLine: data.split('\r\n')[0] ?? '', ms: Date.now() - t0 }));
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

  it(`${SCRAPERS} concurrent scrapers for ${SECONDS} s while requests flow: every scrape complete and valid, counters never decrease`, async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: SCRAPERS });
    const deadline = Date.now() + SECONDS * 1000;
    let served = 0;
    const load = (async () => {
      while (Date.now() < deadline) {
        const got = await Promise.all(Array.from({ length: 16 }, (_, i) => client.generate<number>(i).collect()));
        served += got.length;
      }
    })();
    let scrapes = 0;
    const problems: string[] = [];
    const scraper = async (): Promise<void> => {
      let last = -1;
      while (Date.now() < deadline) {
        const { status, body } = await get(port, '/metrics', agent);
        scrapes++;
        if (status !== 200) {
          problems.push(`status ${status}`);
          continue;
        }
        try {
          const fam = parseExposition(body).get('dynamo_component_requests_total')!;
          if (fam.samples.length !== 20) problems.push(`${fam.samples.length} series`);
          const v = fam.samples.find((s) => s.labels['dynamo_endpoint'] === 'e0')!.value;
          if (v < last) problems.push(`requests_total went back ${last} → ${v}`);
          last = v;
        } catch (e) {
          problems.push(`invalid exposition: ${String(e)}`);
        }
      }
    };
    await Promise.all([load, ...Array.from({ length: SCRAPERS }, scraper)]);
    agent.destroy();
    assert.deepEqual(problems, []);
    assert.ok(served > 50 * SECONDS, `only ${served} requests served during the scrapes`);
    console.log(`status server load: ${scrapes} scrapes by ${SCRAPERS} scrapers in ${SECONDS} s, ${served} requests served meanwhile`);
  });

  it('answers huge URLs and headers with 431, unknown methods with 400/405, path tricks with 404', async () => {
    assert.equal((await get(port, `/metrics?${'a'.repeat(100_000)}`)).status, 431);
    assert.equal((await get(port, '/metrics', undefined, 'GET', { 'x-big': 'b'.repeat(20_000) })).status, 431);
    assert.equal((await get(port, '/metrics', undefined, 'PROPFIND')).status, 405);
    assert.equal((await get(port, '/metrics', undefined, 'DELETE')).status, 405);
    assert.equal((await rawHttp(port, (s) => s.write('BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n'))).statusLine, 'HTTP/1.1 400 Bad Request');
    assert.equal((await rawHttp(port, (s) => s.write('\x00\x01garbage\r\n\r\n'))).statusLine, 'HTTP/1.1 400 Bad Request');
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
    const { statusLine, ms } = await slow;
    assert.equal(statusLine, 'HTTP/1.1 408 Request Timeout');
    assert.ok(ms < 8000, `slow client held for ${ms} ms`);
  });
});
