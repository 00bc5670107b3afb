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
 * Both are optional peer dependencies, loaded when the runtime starts: each release of them is
 * tied to one minor of `@opentelemetry/instrumentation`, which the application's sdk-node pins
 * too, so only the application can pick the line that keeps one copy of it (0.36/0.6 with
 * OpenTelemetry JS 2.x, 0.37/0.7 with 3.x).
 *
 * They register on a provider of ours (or of the application's, when asked): one registration
 * per provider, however many runtimes use it, undone when the last of them shuts down.
 */
import type { MeterProvider } from '@opentelemetry/api';
import { DynamoError, ErrorCode } from '../errors.ts';

/** The packages, as `npm install` names them. */
export const RUNTIME_HEALTH_PACKAGES: readonly string[] = Object.freeze(['@opentelemetry/instrumentation-runtime-node', '@opentelemetry/instrumentation-host-metrics']);

/** What `instrumentation-host-metrics` collects for us: this process, not the host. */
export const PROCESS_METRIC_GROUPS: readonly string[] = Object.freeze(['process.cpu', 'process.memory']);

/** What we use of an OpenTelemetry instrumentation. */
interface Instrumentation {
  setMeterProvider(provider: MeterProvider): void;
  enable(): void;
  disable(): void;
}

/**
 * The two instrumentation modules, once imported. Described here rather than as the packages'
 * own types: our declaration files must not name optional packages an application may not have.
 */
export interface RuntimeHealthModules {
  readonly runtimeNode: { RuntimeNodeInstrumentation: new (config: { enabled: boolean }) => Instrumentation };
  readonly hostMetrics: { HostMetricsInstrumentation: new (config: { enabled: boolean; metricGroups: string[] }) => Instrumentation };
}

let loaded: Promise<RuntimeHealthModules | undefined> | undefined;

/** Imports both packages; `undefined` when either is not installed. */
export function loadRuntimeHealth(): Promise<RuntimeHealthModules | undefined> {
  loaded ??= (async () => {
    try {
      const [runtimeNode, hostMetrics] = await Promise.all([import('@opentelemetry/instrumentation-runtime-node'), import('@opentelemetry/instrumentation-host-metrics')]);
      // Checked against the packages' own types here, where they are installed.
      const modules: RuntimeHealthModules = { runtimeNode, hostMetrics };
      return modules;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return undefined;
      throw error;
    }
  })();
  return loaded;
}

/** The error of a runtime asked for runtime health metrics without the packages. */
export function missingRuntimeHealth(): DynamoError {
  const packages = RUNTIME_HEALTH_PACKAGES.join(' ');
  return new DynamoError(
    ErrorCode.MissingPackage,
    `runtime health metrics (DYN_RUNTIME_METRICS / runtimeMetrics) need ${packages}, which are not installed: npm install ${packages} ` +
      '(the lines that match your OpenTelemetry JS: instrumentation-runtime-node 0.36 and instrumentation-host-metrics 0.6 for 2.x, 0.37 and 0.7 for 3.x)',
  );
}

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
export function startRuntimeHealth(provider: MeterProvider, modules: RuntimeHealthModules): () => void {
  let registration = registrations.get(provider);
  if (registration === undefined) {
    // Created disabled, then enabled once pointed at the provider: nothing samples or registers
    // anywhere before it has the provider it belongs to.
    const runtime = new modules.runtimeNode.RuntimeNodeInstrumentation({ enabled: false });
    const process = new modules.hostMetrics.HostMetricsInstrumentation({ enabled: false, metricGroups: [...PROCESS_METRIC_GROUPS] });
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
