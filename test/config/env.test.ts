import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistributedRuntime, DynamoError, ErrorCode } from '../../src/index.ts';
import { readEnvConfig } from '../../src/config/env.ts';

const invalidEnv = (name: string, value: string) => (err: unknown) =>
  err instanceof DynamoError && err.code === ErrorCode.InvalidEnv && err.message.includes(name) && err.message.includes(JSON.stringify(value));

describe('environment', () => {
  it('reads defaults when nothing is set', () => {
    const rt = new DistributedRuntime({ env: {} });
    assert.deepEqual(
      { enabled: rt.config.systemEnabled, port: rt.config.systemPort, host: rt.config.systemHost, log: rt.config.logLevel, nats: rt.config.natsServers },
      { enabled: false, port: 8000, host: '0.0.0.0', log: 'warn', nats: ['nats://127.0.0.1:4222'] },
    );
  });

  it('reads valid values, trimming blanks and ignoring empty ones', () => {
    const c = readEnvConfig({
      DYN_SYSTEM_ENABLED: ' TRUE ',
      DYN_SYSTEM_PORT: '65535',
      DYN_SYSTEM_HOST: '127.0.0.1',
      DYN_LOG: 'debug',
      NATS_SERVER: 'nats://a:4222, nats://b:4223',
      DYN_METRICS_DURATION_BUCKETS: '',
      DYN_METRICS_INTER_RESPONSE_BUCKETS: '0.001, 0.01,1',
      DYN_ENDPOINT_MAX_CONCURRENCY: ' 8 ',
    });
    assert.deepEqual(c, {
      systemEnabled: true,
      systemPort: 65535,
      systemHost: '127.0.0.1',
      logLevel: 'debug',
      natsServers: ['nats://a:4222', 'nats://b:4223'],
      durationBuckets: undefined,
      interResponseBuckets: [0.001, 0.01, 1],
      maxConcurrency: 8,
      runtimeMetrics: undefined,
      rpcSemconv: false,
    });
    assert.equal(readEnvConfig({ DYN_SYSTEM_PORT: '0' }).systemPort, 0);
    assert.equal(readEnvConfig({ DYN_SYSTEM_PORT: '1' }).systemPort, 1);
    for (const [raw, level] of [['0', 'warn'], ['off', 'warn'], ['1', 'info'], ['error', 'error'], ['WARN', 'warn'], ['trace', 'trace']]) {
      assert.equal(readEnvConfig({ DYN_LOG: raw }).logLevel, level, raw);
    }
    for (const raw of ['1', 'yes', 'on', 'true']) assert.equal(readEnvConfig({ DYN_SYSTEM_ENABLED: raw }).systemEnabled, true);
    for (const raw of ['0', 'no', 'off', 'false']) assert.equal(readEnvConfig({ DYN_SYSTEM_ENABLED: raw }).systemEnabled, false);
  });

  const bad: Array<[string, string]> = [
    ['DYN_ENDPOINT_MAX_CONCURRENCY', '0'],
    ['DYN_ENDPOINT_MAX_CONCURRENCY', '-3'],
    ['DYN_SYSTEM_ENABLED', 'maybe'],
    ['DYN_SYSTEM_PORT', 'abc'],
    ['DYN_SYSTEM_PORT', '65536'],
    ['DYN_SYSTEM_PORT', '-1'],
    ['DYN_SYSTEM_PORT', '80.5'],
    ['DYN_SYSTEM_PORT', '8000x'],
    ['DYN_SYSTEM_HOST', 'http://host'],
    ['DYN_LOG', 'loud'],
    ['NATS_SERVER', 'http://x:4222'],
    ['NATS_SERVER', 'nats://a:4222,,nats://b'],
    ['DYN_METRICS_DURATION_BUCKETS', '1,0.5'],
    ['DYN_METRICS_DURATION_BUCKETS', '0.1,abc'],
    ['DYN_METRICS_DURATION_BUCKETS', '0.1,,1'],
    ['DYN_METRICS_INTER_RESPONSE_BUCKETS', '0.01,0.001'],
  ];
  for (const [name, value] of bad) {
    it(`refuses ${name}=${JSON.stringify(value)} at start, naming both`, async () => {
      assert.throws(() => readEnvConfig({ [name]: value }), invalidEnv(name, value));
      await assert.rejects(DistributedRuntime.create({ env: { [name]: value }, nats: false, handleSignals: false }), invalidEnv(name, value));
    });
  }

  it('refuses a bad port given as an option', () => {
    assert.throws(
      () => new DistributedRuntime({ env: {}, system: { port: 70000 } }),
      (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidOption && /70000/.test(e.message),
    );
  });
});
