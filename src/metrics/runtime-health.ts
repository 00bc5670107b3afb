/**
 * Runtime health: the process and event-loop metrics people expect next to endpoint metrics,
 * from OpenTelemetry's own maintained instrumentations — nothing here measures anything itself:
 *
 * - `@opentelemetry/instrumentation-runtime-node`: event-loop delay (min/max/mean/stddev/p50/p90/
 *   p99), utilization and time by state, V8 heap by space, GC duration by kind, active resources;
 * - `@opentelemetry/instrumentation-host-metrics`, groups `process.cpu` and `process.memory` only:
 *   this process's CPU time and utilization, and its resident memory. The `system.*` groups are the
 *   host's business (node exporter, the Collector's hostmetrics receiver), not every runtime's.
 *
 * Both register on a provider of ours (or of the application's, when asked): one registration
 * per provider, however many runtimes use it, undone when the last of them shuts down.
 */
import type { MeterProvider } from '@opentelemetry/api';
import { HostMetricsInstrumentation } from '@opentelemetry/instrumentation-host-metrics';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';

/** What `instrumentation-host-metrics` collects for us: this process, not the host. */
export const PROCESS_METRIC_GROUPS: readonly string[] = Object.freeze(['process.cpu', 'process.memory']);

interface Registration {
  readonly disable: () => void;
  users: number;
}

/**
 * Registrations by provider. Two runtimes on one (application's) provider would otherwise create
 * every runtime instrument twice: the SDK would merge them, but each would sample the event loop
 * and observe its callbacks twice per collection.
 */
const registrations = new WeakMap<MeterProvider, Registration>();

/**
 * Starts the runtime health instrumentations on `provider`; returns the function that stops them
 * (idempotent). Instruments are created on `provider` only: never on the global one.
 */
export function startRuntimeHealth(provider: MeterProvider): () => void {
  let registration = registrations.get(provider);
  if (registration === undefined) {
    // Created disabled, pointed at the provider, then enabled: enabled at construction they would
    // first create their instruments on the global provider.
    const runtime = new RuntimeNodeInstrumentation({ enabled: false });
    const process = new HostMetricsInstrumentation({ enabled: false, metricGroups: [...PROCESS_METRIC_GROUPS] });
    for (const instrumentation of [runtime, process]) {
      instrumentation.setMeterProvider(provider);
      instrumentation.enable();
    }
    const created: Registration = {
      users: 0,
      disable: () => {
        runtime.disable();
        process.disable();
      },
    };
    registrations.set(provider, created);
    registration = created;
  }
  const shared = registration;
  shared.users += 1;
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    shared.users -= 1;
    if (shared.users === 0) {
      shared.disable();
      registrations.delete(provider);
    }
  };
}
