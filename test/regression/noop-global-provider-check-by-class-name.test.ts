// Bug: "is a global MeterProvider registered?" was answered by `meter.constructor.name ===
// 'NoopMeter'`, which a minifier renames (a real SDK then looked absent, or a no-op present).
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { metrics, type Meter, type MeterProvider as ApiMeterProvider } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { DynamoError, ErrorCode } from '../../src/index.ts';
import { testRuntime } from '../helpers/runtime.ts';

describe("regression: meterProvider: 'global' without constructor names", () => {
  afterEach(() => metrics.disable());

  it('refuses when no global provider is registered', () => {
    assert.throws(() => testRuntime({ meterProvider: 'global' }), (e: unknown) => e instanceof DynamoError && e.code === ErrorCode.InvalidOption && /no global MeterProvider/.test(e.message));
  });

  it('takes a real provider whose meter class happens to be called NoopMeter', async () => {
    const sdk = new MeterProvider();
    class NoopMeter {}
    const renamed: ApiMeterProvider = {
      getMeter(name, version, options): Meter {
        const meter = Object.create(sdk.getMeter(name, version, options)) as Meter & { constructor: unknown };
        Object.defineProperty(meter, 'constructor', { value: NoopMeter });
        return meter;
      },
    };
    metrics.setGlobalMeterProvider(renamed);
    const rt = testRuntime({ meterProvider: 'global' });
    assert.equal(rt.meterProvider, renamed);
    await rt.shutdown();
    await sdk.shutdown();
  });
});
