// Regression: the DistributedRuntime constructor built the MeterProvider and its periodic OTLP
// reader; when create() then failed (NATS unreachable, port in use) nobody owned them, and a retry
// loop around create() left ghost exporters pushing uptime_seconds under new service.instance.ids.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { DistributedRuntime, DynamoError, ErrorCode } from '../../src/index.ts';
import { startNatsServer } from '../helpers/nats-server.ts';
import { startHttpReceiver } from '../helpers/otlp-receiver.ts';
import { eventually, freePort } from '../helpers/tools.ts';

const failsWith = (code: string) => (e: unknown) => e instanceof DynamoError && e.code === code;

/**
 * Timers, sockets and servers this process holds, by kind: what a ghost runtime would keep (the
 * reader's interval, the NATS socket, the status server). Connection attempts still in progress
 * (`ConnectWrap`, from the helpers' readiness probes) come and go and are left out.
 */
function resources(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((kind) => ['Timeout', 'TCPSocketWrap', 'TCPServerWrap'].includes(kind))
    .sort();
}

describe('a failed create() releases everything it started', () => {
  it('three failed creates (NATS unreachable, status port taken) and one never started: zero exports, no handle left', async () => {
    const receiver = await startHttpReceiver();
    const nats = await startNatsServer();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const takenPort = (taken.address() as { port: number }).port;
    const otlp = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '100' };
    try {
      const before = resources();
      const unreachable = { ...otlp, NATS_SERVER: `nats://127.0.0.1:${await freePort()}` };
      await assert.rejects(DistributedRuntime.create({ env: unreachable, handleSignals: false, logSink: () => {} }), failsWith(ErrorCode.NatsConnect));
      await assert.rejects(DistributedRuntime.create({ env: unreachable, handleSignals: false, logSink: () => {} }), failsWith(ErrorCode.NatsConnect));
      // NATS connects, then the status server cannot bind: the connection must be closed again.
      const portTaken = { ...otlp, NATS_SERVER: nats.url, DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_HOST: '127.0.0.1', DYN_SYSTEM_PORT: String(takenPort) };
      await assert.rejects(DistributedRuntime.create({ env: portTaken, logSink: () => {} }), failsWith(ErrorCode.PortInUse));
      // Constructed, never started: builds nothing either.
      new DistributedRuntime({ env: { ...otlp, NATS_SERVER: nats.url }, logSink: () => {} });
      assert.deepEqual(resources(), before);
      assert.equal(process.listenerCount('SIGTERM'), 0);

      // A runtime that does start, with the same 100 ms interval, exports three times; in that time
      // any ghost would have exported too.
      const control = await DistributedRuntime.create({ env: otlp, nats: false, handleSignals: false, logSink: () => {} });
      try {
        await eventually(async () => (receiver.exports.length >= 3 ? true : undefined), 10_000, 'three exports from the started runtime');
        assert.deepEqual(new Set(receiver.exports.map((e) => e.resource['service.instance.id'])), new Set([control.instanceId]));
      } finally {
        await control.shutdown();
      }
    } finally {
      taken.close();
      await nats.stop();
      await receiver.stop();
    }
  });

  it('metrics used before start() with OTLP on: a clear error, not an exporter built behind the caller', () => {
    const runtime = new DistributedRuntime({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, nats: false, handleSignals: false, logSink: () => {} });
    assert.throws(() => runtime.meterProvider, (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidOption && /start the runtime/.test(e.message));
  });
});
