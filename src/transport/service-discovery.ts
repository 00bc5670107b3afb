/**
 * Instance discovery over NATS's own service protocol (`$SRV.PING|INFO|STATS`, ADR-32), so
 * standard tooling (`nats micro ls`, `nats micro info dynamo`) lists every serving instance.
 * Each runtime is one instance of the service `dynamo`; each endpoint it serves is an endpoint
 * of that instance, with the hierarchy in its metadata.
 */
import { nuid, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from '../logging/logger.ts';
import { decodeBody } from './codec.ts';
import { readHeaders } from './message-headers.ts';
import { flushSubscriptions } from './nats-connection.ts';
import { ContentType, INSTANCE_ID_RE, instanceSubject, replySubjectRefusal } from './protocol.ts';

export const SERVICE_NAME = 'dynamo';

export interface EndpointStats {
  num_requests: number;
  num_errors: number;
  /** Nanoseconds, summed over requests. */
  processing_time: number;
  /** The text of the last error answered (`''` before any), as NATS tooling shows it. */
  last_error: string;
}

export interface ServedEndpoint {
  /** The service API's endpoint name (`[-\w]+`). */
  name: string;
  /** Shared subject (and queue group). */
  subject: string;
  /** This instance's own subject for direct routing. */
  instanceSubject: string;
  metadata: Record<string, string>;
  stats: () => EndpointStats;
}

/** One serving instance of an endpoint, as discovery found it. */
export interface Instance {
  /** The serving runtime's `instanceId`: pass it as `generate(request, { instanceId })` to route there. */
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
              if (err !== null) return;
              try {
                this.answer(verb, msg);
              } catch (error) {
                this.logger.debug('$SRV request dropped', { error });
              }
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
              last_error: s.last_error,
              processing_time: ns,
              average_processing_time: s.num_requests === 0 ? 0 : Math.round(ns / s.num_requests),
            };
          }),
        };
    }
    const reply = msg.reply ?? '';
    if (replySubjectRefusal(reply) !== undefined) return;
    try {
      this.nc.publish(reply, encoder.encode(JSON.stringify(body)));
    } catch (err) {
      this.logger.debug('$SRV answer not sent', { error: err });
    }
  }
}

/** Answers quieter than this after the last valid one end a discovery round early. */
const STALL_MS = 100;

/**
 * The instance an `$SRV.INFO` answer describes for `subject`, or undefined when the answer is not
 * a well-formed dynamo info response serving it. The instance subject is derived from the id,
 * never taken from the answer: an answer cannot redirect requests to a subject of its choosing.
 */
export function instanceFromInfo(body: unknown, subject: string): Instance | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const info = body as Record<string, unknown>;
  if (info['type'] !== 'io.nats.micro.v1.info_response' || info['name'] !== SERVICE_NAME) return undefined;
  const id = info['id'];
  if (typeof id !== 'string' || !INSTANCE_ID_RE.test(id) || !Array.isArray(info['endpoints'])) return undefined;
  const direct = instanceSubject(subject, id);
  for (const ep of info['endpoints'] as unknown[]) {
    if (ep === null || typeof ep !== 'object') continue;
    const endpoint = ep as Record<string, unknown>;
    const metadata = endpoint['metadata'];
    if (endpoint['subject'] !== subject || metadata === null || typeof metadata !== 'object') continue;
    if ((metadata as Record<string, unknown>)['instance_subject'] === direct) return { instanceId: id, subject: direct };
  }
  return undefined;
}

/**
 * Asks every `dynamo` service instance for its endpoints; returns those serving `subject`, sorted
 * by id. The round lasts `windowMs`, or ends `STALL_MS` after the last valid answer — never
 * before the first one: a busy instance may take longer than `STALL_MS` to answer at all, and a
 * round that ended before it would report no instance. NATS's no-responders status (nothing
 * subscribed) ends it at once. Answers that are not valid — garbage, forged, empty, of another
 * service — are dropped and neither end nor extend the round.
 */
export async function discoverInstances(nc: NatsConnection, subject: string, windowMs: number, inboxPrefix: string, logger: Logger): Promise<Instance[]> {
  const found = new Map<string, Instance>();
  const inbox = `${inboxPrefix}.${nuid.next()}`;
  await new Promise<void>((resolve) => {
    let stall: NodeJS.Timeout | undefined;
    let sub: Subscription | undefined;
    const done = (): void => {
      clearTimeout(stall);
      clearTimeout(whole);
      sub?.unsubscribe();
      resolve();
    };
    const whole = setTimeout(done, windowMs);
    const quiet = (): void => {
      clearTimeout(stall);
      stall = setTimeout(done, Math.min(STALL_MS, windowMs));
    };
    try {
      sub = nc.subscribe(inbox, {
        callback: (err, msg) => {
          if (err !== null) return done();
          try {
            const read = readHeaders(msg);
            if (!read.ok) return;
            // NATS's no-responders status: no instance of anything is listening.
            if (read.headers?.code === 503 && msg.data.length === 0) return done();
            const decoded = decodeBody(msg.data, ContentType.Json);
            const instance = decoded.ok ? instanceFromInfo(decoded.value, subject) : undefined;
            if (instance === undefined) return;
            found.set(instance.instanceId, instance);
            quiet();
          } catch (error) {
            logger.debug('discovery answer dropped', { error });
          }
        },
      });
      nc.publish(`$SRV.INFO.${SERVICE_NAME}`, undefined, { reply: inbox });
    } catch (error) {
      logger.debug('discovery round failed', { error });
      done();
    }
  });
  return [...found.values()].sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
}
