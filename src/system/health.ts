/** Readiness as the status server reports it on /health. */
export const HealthStatus = {
  /** NATS is not down and every started endpoint serves: `/health` answers 200. */
  Ready: 'ready',
  /** `/health` answers 503. */
  NotReady: 'notready',
} as const;
/** One of the {@link HealthStatus} values. */
export type HealthStatus = (typeof HealthStatus)[keyof typeof HealthStatus];

/** The runtime's NATS connection, as `/health` reports it. */
export const NatsState = {
  /** Connected. */
  Connected: 'connected',
  /** Lost; reconnecting by itself. */
  Disconnected: 'disconnected',
  /** The runtime runs without NATS (`nats: false`). */
  NotConfigured: 'not_configured',
} as const;
/** One of the {@link NatsState} values. */
export type NatsState = (typeof NatsState)[keyof typeof NatsState];

/** The JSON body of `/health`. */
export interface HealthReport {
  /** Ready or not. */
  status: HealthStatus;
  /** The NATS connection. */
  nats: NatsState;
  /** Seconds since the runtime was created. */
  uptime_seconds: number;
  /**
   * Every endpoint that has started serving, by `namespace/component/endpoint`. `failed`: its
   * `serve()` threw (see `failures`); it does not make the runtime not ready — the application
   * got the error and decides.
   */
  endpoints: Record<string, 'serving' | 'not_serving' | 'failed'>;
  /** Why each `failed` endpoint's `serve()` failed. Present only when one did. */
  failures?: Record<string, string>;
}

export interface HealthInput {
  nats: NatsState;
  uptimeSeconds: number;
  endpoints: Iterable<{ path: string; started: boolean; serving: boolean; failure?: string | undefined }>;
}

/** Ready means: NATS is not down, and every endpoint that was started is serving. */
export function healthReport(input: HealthInput): HealthReport {
  const endpoints: Record<string, 'serving' | 'not_serving' | 'failed'> = {};
  const failures: Record<string, string> = {};
  let ready = input.nats !== NatsState.Disconnected;
  for (const ep of input.endpoints) {
    if (!ep.started) continue;
    if (!ep.serving && ep.failure !== undefined) {
      endpoints[ep.path] = 'failed';
      failures[ep.path] = ep.failure;
      continue;
    }
    endpoints[ep.path] = ep.serving ? 'serving' : 'not_serving';
    if (!ep.serving) ready = false;
  }
  return {
    status: ready ? HealthStatus.Ready : HealthStatus.NotReady,
    nats: input.nats,
    uptime_seconds: input.uptimeSeconds,
    endpoints,
    ...(Object.keys(failures).length > 0 ? { failures } : {}),
  };
}
