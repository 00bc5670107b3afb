import { DistributedRuntime, type DistributedRuntimeOptions } from '../../src/index.ts';

export interface CapturedLogs {
  lines: Array<Record<string, unknown>>;
  sink: (line: string) => void;
}

export function captureLogs(): CapturedLogs {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, sink: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) };
}

/**
 * A runtime isolated from the process environment, status server off unless asked, and without
 * the runtime health metrics (their values move by themselves) unless asked.
 */
export function testRuntime(options: DistributedRuntimeOptions = {}): DistributedRuntime {
  return new DistributedRuntime({ env: {}, logSink: () => {}, nats: false, handleSignals: false, runtimeMetrics: false, ...options });
}

/** Options of a test runtime on the nats-server at `url`: no signal handling, no log output. */
export function onNats(url: string): { env: Record<string, string>; handleSignals: false; logSink: (line: string) => void } {
  return { env: { NATS_SERVER: url }, handleSignals: false, logSink: () => {} };
}
