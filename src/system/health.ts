/** Readiness as the status server reports it on /health. */
export const HealthStatus = { Ready: 'ready', NotReady: 'notready' } as const;
export type HealthStatus = (typeof HealthStatus)[keyof typeof HealthStatus];

export const NatsState = { Connected: 'connected', Disconnected: 'disconnected', NotConfigured: 'not_configured' } as const;
export type NatsState = (typeof NatsState)[keyof typeof NatsState];

export interface HealthReport {
  status: HealthStatus;
  nats: NatsState;
  uptime_seconds: number;
  /** Every endpoint that has started serving, by `namespace/component/endpoint`. */
  endpoints: Record<string, 'serving' | 'not_serving'>;
}

export interface HealthInput {
  nats: NatsState;
  uptimeSeconds: number;
  endpoints: Iterable<{ path: string; started: boolean; serving: boolean }>;
}

/** Ready means: NATS is not down, and every endpoint that was started is serving. */
export function healthReport(input: HealthInput): HealthReport {
  const endpoints: Record<string, 'serving' | 'not_serving'> = {};
  let ready = input.nats !== NatsState.Disconnected;
  for (const ep of input.endpoints) {
    if (!ep.started) continue;
    endpoints[ep.path] = ep.serving ? 'serving' : 'not_serving';
    if (!ep.serving) ready = false;
  }
  return {
    status: ready ? HealthStatus.Ready : HealthStatus.NotReady,
    nats: input.nats,
    uptime_seconds: input.uptimeSeconds,
    endpoints,
  };
}
