// Bug: while streaming a large /metrics under backpressure, every wait for 'drain' also added a
// 'close' (and 'error') listener to the response that was never removed — a listener leak that
// Node reported as MaxListenersExceededWarning. Found by the scrape benchmark.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { DistributedRuntime } from '../../src/index.ts';

describe('regression: /metrics backpressure leaves no listeners behind', () => {
  it('streams a large exposition to a slow reader without a listener warning, completely', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    const rt = await DistributedRuntime.create({ env: {}, nats: false, handleSignals: false, logSink: () => {}, system: { enabled: true, port: 0, host: '127.0.0.1' } });
    try {
      for (let i = 0; i < 3000; i++) rt.namespace('ns').component(`c${i % 30}`).endpoint(`e${i}`).setServing(true);
      const body = await new Promise<string>((resolve, reject) => {
        request({ host: '127.0.0.1', port: rt.systemPort, path: '/metrics' }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            text += d;
            res.pause(); // a slow scraper
            setTimeout(() => res.resume(), 1);
          });
          res.on('end', () => resolve(text));
        })
          .on('error', reject)
          .end();
      });
      assert.equal(body.split('\n').filter((l) => l.startsWith('dynamo_component_requests_total{')).length, 3000);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings.filter((w) => w === 'MaxListenersExceededWarning'), []);
    } finally {
      process.off('warning', onWarning);
      await rt.shutdown();
    }
  });
});
