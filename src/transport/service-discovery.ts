/**
 * Instance discovery over NATS's own service protocol (`$SRV.PING|INFO|STATS`, ADR-32), so
 * standard tooling (`nats micro ls`, `nats micro info dynamo`) lists every serving instance.
 * Each runtime is one instance of the service `dynamo`; each endpoint it serves is an endpoint
 * of that instance, with the hierarchy in its metadata.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../logging/logger.ts';
import { flushSubscriptions } from './nats-connection.ts';

export const SERVICE_NAME = 'dynamo';

export interface EndpointStats {
  num_requests: number;
  num_errors: number;
  /** Nanoseconds, summed over requests. */
  processing_time: number;
}

export interface ServedEndpoint {
  /** `namespace/component/endpoint`. */
  name: string;
  /** Shared subject (and queue group). */
  subject: string;
  /** This instance's own subject for direct routing. */
  instanceSubject: string;
  metadata: Record<string, string>;
  stats: () => EndpointStats;
}

export interface Instance {
  instanceId: string;
  /** Where to send a request for this instance alone. */
  subject: string;
}

const encoder = new TextEncoder();

export class ServiceResponder {
  private readonly nc: NatsConnection;
  private readonly instanceId: string;
  private readonly version: string;
  private readonly logger: Logger;
  private readonly endpoints = new Map<string, ServedEndpoint>();
  private readonly started = new Date().toISOString();
  private subs: Subscription[] = [];

  constructor(nc: NatsConnection, instanceId: string, version: string, logger: Logger) {
    this.nc = nc;
    this.instanceId = instanceId;
    this.version = version;
    this.logger = logger;
  }

  async add(endpoint: ServedEndpoint): Promise<void> {
    this.endpoints.set(endpoint.subject, endpoint);
    if (this.subs.length === 0) {
      for (const verb of ['PING', 'INFO', 'STATS'] as const) {
        for (const subject of [`$SRV.${verb}`, `$SRV.${verb}.${SERVICE_NAME}`, `$SRV.${verb}.${SERVICE_NAME}.${this.instanceId}`]) {
          this.subs.push(this.nc.subscribe(subject, {
            callback: (err, msg) => {
              if (err === null) this.answer(verb, msg);
            },
          }));
        }
      }
    }
    await flushSubscriptions(this.nc);
  }

  remove(subject: string): void {
    this.endpoints.delete(subject);
    if (this.endpoints.size === 0) this.stop();
  }

  stop(): void {
    for (const sub of this.subs) sub.unsubscribe();
    this.subs = [];
  }

  private answer(verb: 'PING' | 'INFO' | 'STATS', msg: Msg): void {
    const base = { name: SERVICE_NAME, id: this.instanceId, version: this.version, metadata: { runtime: 'dynamo-otel' } };
    let body: object;
    const eps = [...this.endpoints.values()];
    switch (verb) {
      case 'PING':
        body = { type: 'io.nats.micro.v1.ping_response', ...base };
        break;
      case 'INFO':
        body = {
          type: 'io.nats.micro.v1.info_response',
          ...base,
          description: 'dynamo-otel distributed runtime',
          endpoints: eps.map((e) => ({ name: e.name, subject: e.subject, queue_group: e.subject, metadata: { ...e.metadata, instance_subject: e.instanceSubject } })),
        };
        break;
      default:
        body = {
          type: 'io.nats.micro.v1.stats_response',
          ...base,
          started: this.started,
          endpoints: eps.map((e) => {
            const s = e.stats();
            const ns = Math.round(s.processing_time);
            return {
              name: e.name,
              subject: e.subject,
              queue_group: e.subject,
              num_requests: s.num_requests,
              num_errors: s.num_errors,
              last_error: '',
              processing_time: ns,
              average_processing_time: s.num_requests === 0 ? 0 : Math.round(ns / s.num_requests),
            };
          }),
        };
    }
    try {
      msg.respond(encoder.encode(JSON.stringify(body)));
    } catch (err) {
      this.logger.debug('$SRV answer not sent', { error: err });
    }
  }
}

interface InfoResponse {
  id?: unknown;
  endpoints?: Array<{ subject?: unknown; metadata?: { instance_subject?: unknown } | null }>;
}

/** Asks every `dynamo` service instance for its endpoints; returns those serving `subject`. */
export async function discoverInstances(nc: NatsConnection, subject: string, windowMs: number): Promise<Instance[]> {
  const found = new Map<string, Instance>();
  let replies: AsyncIterable<Msg>;
  try {
    replies = await nc.requestMany(`$SRV.INFO.${SERVICE_NAME}`, undefined, { strategy: 'stall', stall: Math.min(100, windowMs), maxWait: windowMs });
  } catch {
    return []; // no responders: no instance of anything
  }
  try {
    for await (const msg of replies) {
      let info: InfoResponse;
      try {
        info = msg.json<InfoResponse>();
      } catch {
        continue;
      }
      if (typeof info.id !== 'string') continue;
      for (const ep of info.endpoints ?? []) {
        const direct = ep.metadata?.instance_subject;
        if (ep.subject === subject && typeof direct === 'string') found.set(info.id, { instanceId: info.id, subject: direct });
      }
    }
  } catch {
    /* no responders or a closed connection ends the round: keep what arrived */
  }
  return [...found.values()].sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
}
