// Bug: with the application's provider, shutdown left our batch callbacks on it: its exporters
// kept shipping an ever-growing uptime and live-looking endpoint series, and every re-created
// runtime added its callbacks to the pile.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { testRuntime } from '../helpers/runtime.ts';

class PullReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

describe("regression: callbacks left on the application's provider", () => {
  it('removes every callback at shutdown: nothing of ours runs or grows afterwards, however many runtimes came and went', async () => {
    const reader = new PullReader();
    const provider = new MeterProvider({ readers: [reader] });
    const metrics = async (): Promise<MetricData[]> => (await reader.collect()).resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    let calls = 0;
    for (let round = 0; round < 3; round++) {
      const rt = testRuntime({ meterProvider: provider });
      const ep = rt.namespace('ns').component('c').endpoint('e');
      ep.setServing(true);
      ep.createObservableCounter({ name: 'polls', description: 'polls' }, (r) => {
        calls++;
        r.observe(1);
      });
      ep.recorder.requestEnded(ep.recorder.requestStarted(1));
      calls = 0;
      await metrics();
      assert.equal(calls, 1, `round ${round}: one live callback`);
      await rt.shutdown();
    }
    calls = 0;
    const uptime = async () => (await metrics()).find((m) => m.descriptor.name === 'uptime_seconds')!.dataPoints.map((p) => p.value);
    const first = await uptime();
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(await uptime(), first, 'uptime no longer grows');
    assert.equal(calls, 0);
    await provider.shutdown();
  });
});
