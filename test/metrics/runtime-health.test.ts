import assert from 'node:assert/strict';
import { getHeapSpaceStatistics } from 'node:v8';
import { describe, it } from 'node:test';
import { metrics, type Meter, type MeterProvider as ApiMeterProvider } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { DistributedRuntime, DynamoError, ErrorCode, PrometheusReader } from '../../src/index.ts';
import { loadRuntimeHealth, startRuntimeHealth } from '../../src/metrics/runtime-health.ts';
import { parseExposition, type Family } from '../helpers/exposition.ts';
import { promtoolCheck } from '../helpers/tools.ts';
import { waitFor } from '../helpers/wait.ts';

/** Every runtime health family as /metrics renders it, with its type and the label names of its series. */
const RUNTIME_FAMILIES: Record<string, { type: string; labels: string[] }> = {
  nodejs_eventloop_delay_max: { type: 'gauge', labels: [] },
  nodejs_eventloop_delay_mean: { type: 'gauge', labels: [] },
  nodejs_eventloop_delay_min: { type: 'gauge', labels: [] },
  nodejs_eventloop_delay_p50: { type: 'gauge', labels: [] },
  nodejs_eventloop_delay_p90: { type: 'gauge', labels: [] },
  nodejs_eventloop_delay_p99: { type: 'gauge', labels: [] },
  nodejs_eventloop_delay_stddev: { type: 'gauge', labels: [] },
  nodejs_eventloop_time_total: { type: 'counter', labels: ['nodejs_eventloop_state'] },
  nodejs_eventloop_utilization: { type: 'gauge', labels: [] },
  process_cpu_time_total: { type: 'counter', labels: ['cpu_mode'] },
  process_cpu_utilization: { type: 'gauge', labels: ['cpu_mode'] },
  process_memory_usage: { type: 'gauge', labels: [] },
  v8js_gc_duration: { type: 'histogram', labels: ['v8js_gc_type'] },
  v8js_memory_heap_space_available_size: { type: 'gauge', labels: ['v8js_heap_space_name'] },
  v8js_memory_heap_space_physical_size: { type: 'gauge', labels: ['v8js_heap_space_name'] },
  v8js_memory_heap_space_size: { type: 'gauge', labels: ['v8js_heap_space_name'] },
  v8js_memory_heap_used: { type: 'gauge', labels: ['v8js_heap_space_name'] },
  v8js_resource_active: { type: 'gauge', labels: ['v8js_resource_type'] },
};
const RUNTIME_NAMES = Object.keys(RUNTIME_FAMILIES).sort();
const OURS = /^(dynamo_|target_info$|uptime_seconds$)/;

function runtimeFamilies(families: Map<string, Family>): string[] {
  return [...families.keys()].filter((name) => !OURS.test(name)).sort();
}

/** Work for the garbage collector and the event-loop sampler: a collection needs both to have something to report. */
function churn(): void {
  (globalThis as { gc?: () => void }).gc?.();
  let keep: unknown[] = [];
  for (let i = 0; i < 200_000; i++) keep.push({ i });
  keep = [];
}

/** The exposition once every runtime health family has data (delay gauges need samples since the last collection, GC needs a GC). */
async function fullExposition(read: () => Promise<string>): Promise<{ text: string; families: Map<string, Family> }> {
  return waitFor(
    async () => {
      churn();
      await new Promise((resolve) => setImmediate(resolve));
      const text = await read();
      return { text, families: parseExposition(text) };
    },
    { what: 'every runtime health family on /metrics', timeoutMs: 30_000, intervalMs: 100, until: ({ families }) => runtimeFamilies(families).length === RUNTIME_NAMES.length },
  );
}

/**
 * The runtime health samples of two scrapes with work in between, which must be equal: nothing
 * samples any more. (Instruments cannot leave a provider through the API: what they last held stays.)
 */
async function frozen(read: () => Promise<string>): Promise<void> {
  const samples = async () => {
    const families = parseExposition(await read());
    return runtimeFamilies(families).map((name) => families.get(name)!.samples);
  };
  const first = await samples();
  churn();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(await samples(), first);
}

const labelNames = (family: Family): string[] => [...new Set(family.samples.flatMap((s) => Object.keys(s.labels).filter((l) => l !== 'le')))].sort();
const labelValues = (family: Family, label: string): string[] => [...new Set(family.samples.map((s) => s.labels[label]!))].sort();

describe('runtime health metrics', () => {
  it('are on by default with the embedded SDK: exactly these families on /metrics, valid for promtool', async () => {
    const rt = await DistributedRuntime.create({ env: { DYN_SYSTEM_ENABLED: 'true', DYN_SYSTEM_PORT: '0', DYN_SYSTEM_HOST: '127.0.0.1' }, nats: false, handleSignals: false, logSink: () => {} });
    try {
      const { text, families } = await fullExposition(async () => (await fetch(`http://127.0.0.1:${rt.systemPort}/metrics`)).text());
      assert.deepEqual(runtimeFamilies(families), RUNTIME_NAMES);
      for (const name of RUNTIME_NAMES) {
        const family = families.get(name)!;
        assert.equal(family.type, RUNTIME_FAMILIES[name]!.type, name);
        assert.deepEqual(labelNames(family), RUNTIME_FAMILIES[name]!.labels, name);
        for (const sample of family.samples) assert.ok(Number.isFinite(sample.value) && sample.value >= 0, `${name} ${sample.value}`);
      }
      const heapSpaces = getHeapSpaceStatistics().map((s) => s.space_name).sort();
      for (const name of ['v8js_memory_heap_used', 'v8js_memory_heap_space_size', 'v8js_memory_heap_space_available_size', 'v8js_memory_heap_space_physical_size']) {
        assert.deepEqual(labelValues(families.get(name)!, 'v8js_heap_space_name'), heapSpaces, name);
      }
      assert.deepEqual(labelValues(families.get('nodejs_eventloop_time_total')!, 'nodejs_eventloop_state'), ['active', 'idle']);
      assert.deepEqual(labelValues(families.get('process_cpu_time_total')!, 'cpu_mode'), ['system', 'user']);
      const utilization = families.get('nodejs_eventloop_utilization')!.samples;
      assert.equal(utilization.length, 1);
      assert.ok(utilization[0]!.value <= 1, `utilization ${utilization[0]!.value}`);
      const gcCount = families.get('v8js_gc_duration')!.samples.filter((s) => s.name === 'v8js_gc_duration_count');
      assert.ok(gcCount.some((s) => s.value >= 1), 'a GC was recorded');
      assert.equal(promtoolCheck(text).status, 0, promtoolCheck(text).output);
    } finally {
      await rt.shutdown();
    }
  });

  it('are off with DYN_RUNTIME_METRICS=false; the option wins over the variable', async () => {
    const cases = [
      { env: { DYN_RUNTIME_METRICS: 'false' }, expected: [] },
      { env: { DYN_RUNTIME_METRICS: 'true' }, option: false, expected: [] },
      { env: { DYN_RUNTIME_METRICS: '0' }, option: true, expected: RUNTIME_NAMES },
    ];
    for (const { env, option, expected } of cases) {
      const rt = await DistributedRuntime.create({ env, nats: false, handleSignals: false, logSink: () => {}, ...(option === undefined ? {} : { runtimeMetrics: option }) });
      try {
        assert.equal(rt.config.runtimeMetrics, option ?? false);
        const families = expected.length === 0 ? parseExposition(await rt.metricsText()) : (await fullExposition(() => rt.metricsText())).families;
        assert.deepEqual(runtimeFamilies(families), expected, JSON.stringify({ env, option }));
      } finally {
        await rt.shutdown();
      }
    }
  });

  it('refuses a malformed DYN_RUNTIME_METRICS at start, naming it', () => {
    assert.throws(
      () => new DistributedRuntime({ env: { DYN_RUNTIME_METRICS: 'maybe' }, nats: false, handleSignals: false }),
      (err: unknown) => err instanceof DynamoError && err.code === ErrorCode.InvalidEnv && err.message.includes('DYN_RUNTIME_METRICS="maybe"'),
    );
    assert.throws(
      () => new DistributedRuntime({ env: {}, runtimeMetrics: 'yes' as unknown as boolean, nats: false, handleSignals: false }),
      (err: unknown) => err instanceof DynamoError && err.code === ErrorCode.InvalidOption && err.message.includes('runtimeMetrics'),
    );
  });

  it("stay off on the application's provider unless asked; asked, they reach its readers and stop sampling at shutdown", async () => {
    const reader = new PrometheusReader();
    const provider = new MeterProvider({ readers: [reader] });
    const quiet = new DistributedRuntime({ env: {}, meterProvider: provider, prometheusReader: reader, nats: false, handleSignals: false, logSink: () => {} });
    try {
      churn();
      assert.deepEqual(runtimeFamilies(parseExposition(await reader.scrape())), []);
    } finally {
      await quiet.shutdown();
    }
    const asked = new DistributedRuntime({ env: {}, meterProvider: provider, prometheusReader: reader, runtimeMetrics: true, nats: false, handleSignals: false, logSink: () => {} });
    await asked.start();
    assert.deepEqual(runtimeFamilies((await fullExposition(() => reader.scrape())).families), RUNTIME_NAMES);
    await asked.shutdown();
    await frozen(() => reader.scrape());
    await provider.shutdown();
  });

  it("go to the embedded runtime's own provider, never to a global one the application registered", async () => {
    const globalReader = new PrometheusReader();
    const globalProvider = new MeterProvider({ readers: [globalReader] });
    assert.equal(metrics.setGlobalMeterProvider(globalProvider), true);
    const rt = await DistributedRuntime.create({ env: {}, nats: false, handleSignals: false, logSink: () => {} });
    try {
      assert.deepEqual(runtimeFamilies((await fullExposition(() => rt.metricsText())).families), RUNTIME_NAMES);
      assert.deepEqual([...parseExposition(await globalReader.scrape()).keys()], ['target_info']);
    } finally {
      await rt.shutdown();
      metrics.disable();
      await globalProvider.shutdown();
    }
  });

  it('register once per provider, however many runtimes use it, until the last one stops', async () => {
    const reader = new PrometheusReader();
    const provider = new MeterProvider({ readers: [reader] });
    const created: string[] = [];
    // The real provider, with every instrument creation written down.
    const counting: ApiMeterProvider = {
      getMeter(name, version, options) {
        const meter = provider.getMeter(name, version, options);
        return new Proxy(meter, {
          get(target, key, receiver) {
            const value = Reflect.get(target, key, receiver) as unknown;
            if (typeof key !== 'string' || !key.startsWith('create') || typeof value !== 'function') return value;
            return (instrument: string, ...rest: unknown[]) => {
              created.push(instrument);
              return (value as (...args: unknown[]) => unknown).call(target, instrument, ...rest);
            };
          },
        }) as Meter;
      },
    };
    const modules = await loadRuntimeHealth();
    assert.ok(modules !== undefined, 'the packages are installed (devDependencies)');
    const stopFirst = startRuntimeHealth(counting, modules);
    const once = [...created].sort();
    assert.ok(once.includes('nodejs.eventloop.utilization') && once.includes('process.cpu.time'), once.join());
    const stopSecond = startRuntimeHealth(counting, modules);
    assert.deepEqual([...created].sort(), once, 'the second runtime created no instrument');
    stopFirst();
    stopFirst();
    assert.deepEqual(runtimeFamilies((await fullExposition(() => reader.scrape())).families), RUNTIME_NAMES, 'still on for the second runtime');
    stopSecond();
    await frozen(() => reader.scrape());
    await provider.shutdown();
  });
});
