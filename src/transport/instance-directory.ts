/**
 * The instances serving one endpoint, as one runtime knows them: shared by every client of that
 * endpoint in the runtime (one discovery, not one per client), kept fresh on its own.
 *
 * - A discovery round (`$SRV.INFO`) runs when the first client starts, again every
 *   `refreshMs` ± 20 % (the jitter keeps a fleet of callers from asking all at once), and soon
 *   after an instance announces that it joins or leaves (`_DYN.ANNOUNCE.…`). An announcement only
 *   says "look again": its content is not trusted, so a forged one costs a discovery round (at
 *   most one per `ANNOUNCE_DEBOUNCE_MS`), never a wrong route.
 * - An instance that answered "no responders" is forgotten until a round finds it again.
 *
 * It also keeps what the runtime knows of each instance's load, for the `least_loaded` router:
 * the requests this runtime has in flight to it (counted here, for all its clients of the
 * endpoint) and the last load the instance reported on an `end`/`error` message (`Dynamo-Load`:
 * its other requests in flight then). A report is trusted for `LOAD_REPORT_TTL_MS`: an instance
 * nobody sends to reports nothing, and must not look busy forever.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../logging/logger.ts';
import { announceSubject } from './protocol.ts';
import { discoverInstances, type Instance } from './service-discovery.ts';

/** Rounds triggered by announcements are at least this far apart. */
const ANNOUNCE_DEBOUNCE_MS = 250;

/** How long an instance's load report counts, ms. */
export const LOAD_REPORT_TTL_MS = 1000;

interface LoadReport {
  /** Requests in flight on the instance when it reported, not counting ours. */
  readonly others: number;
  readonly at: number;
}

export interface InstanceDirectoryOptions {
  nc: NatsConnection;
  subject: string;
  inboxPrefix: string;
  logger: Logger;
  /** How long one discovery round listens, ms. Default 250. */
  windowMs?: number;
  /** Background refresh period, ms. Default 10000. */
  refreshMs?: number;
}

export class InstanceDirectory {
  private readonly options: InstanceDirectoryOptions;
  private known: readonly Instance[] = [];
  private users = 0;
  private timer: NodeJS.Timeout | undefined;
  private announcements: Subscription | undefined;
  private round: Promise<readonly Instance[]> | undefined;
  /** The round queued behind the one under way (at most one). */
  private next: Promise<readonly Instance[]> | undefined;
  private pending: NodeJS.Timeout | undefined;
  private lastRound = 0;
  private readonly changed = new Set<() => void>();
  /** This runtime's requests in flight, per instance. */
  private readonly outstanding = new Map<string, number>();
  private readonly reports = new Map<string, LoadReport>();

  constructor(options: InstanceDirectoryOptions) {
    this.options = options;
  }

  /** The instances found by the last round, sorted by id. */
  get instances(): readonly Instance[] {
    return this.known;
  }

  /** A client starts using the directory: the first one starts the refreshes. */
  acquire(): void {
    if (this.users++ > 0) return;
    this.announcements = this.options.nc.subscribe(announceSubject(this.options.subject), {
      callback: (err) => {
        if (err === null) this.soon();
      },
    });
    this.schedule();
    void this.refresh();
  }

  /** A client is done with it: the last one stops the refreshes. */
  release(): void {
    if (--this.users > 0) return;
    this.users = 0;
    clearTimeout(this.timer);
    clearTimeout(this.pending);
    this.timer = this.pending = undefined;
    this.announcements?.unsubscribe();
    this.announcements = undefined;
  }

  /**
   * Runs a discovery round now. With one under way, it is joined — unless `fresh`: then one more
   * round follows it, since the one under way may have started before the change that prompted this.
   */
  refresh(fresh = false): Promise<readonly Instance[]> {
    if (this.round !== undefined) {
      if (!fresh) return this.round;
      this.next ??= this.round.then(() => {
        this.next = undefined;
        return this.refresh();
      });
      return this.next;
    }
    this.round = discoverInstances(this.options.nc, this.options.subject, this.options.windowMs ?? 250, this.options.inboxPrefix, this.options.logger)
      .then((found) => {
        this.known = found;
        for (const id of this.reports.keys()) if (!found.some((i) => i.instanceId === id)) this.reports.delete(id);
        for (const listener of this.changed) listener();
        return found;
      })
      .finally(() => {
        this.round = undefined;
        this.lastRound = Date.now();
      });
    return this.round;
  }

  /** Drops an instance that answered "no responders", until a round finds it again. */
  forget(instanceId: string): void {
    if (!this.known.some((i) => i.instanceId === instanceId)) return;
    this.known = this.known.filter((i) => i.instanceId !== instanceId);
    this.soon();
  }

  /** One more (+1) or one fewer (-1) request of this runtime in flight to `instanceId`. */
  track(instanceId: string, delta: 1 | -1): void {
    const count = (this.outstanding.get(instanceId) ?? 0) + delta;
    if (count <= 0) this.outstanding.delete(instanceId);
    else this.outstanding.set(instanceId, count);
  }

  /**
   * `instanceId` reported `load` requests in flight besides the one it answered. Of those, the
   * ones that were ours are counted by `track` already: only the others are kept. `answeredTracked`:
   * the answered request is among ours counted for that instance (sent to it, not through the queue group).
   */
  reportLoad(instanceId: string, load: number, answeredTracked: boolean): void {
    const ours = Math.max(0, (this.outstanding.get(instanceId) ?? 0) - (answeredTracked ? 1 : 0));
    this.reports.set(instanceId, { others: Math.max(0, load - ours), at: Date.now() });
  }

  /** The requests `instanceId` is estimated to have in flight: others' as last reported (while fresh), plus ours now. */
  load(instanceId: string, now = Date.now()): number {
    const report = this.reports.get(instanceId);
    const others = report !== undefined && now - report.at <= LOAD_REPORT_TTL_MS ? report.others : 0;
    return others + (this.outstanding.get(instanceId) ?? 0);
  }

  /** Calls `listener` after every round; returns its removal. */
  onChange(listener: () => void): () => void {
    this.changed.add(listener);
    return () => this.changed.delete(listener);
  }

  private schedule(): void {
    const base = this.options.refreshMs ?? 10_000;
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => {
        if (this.users > 0) this.schedule();
      });
    }, base * (0.8 + Math.random() * 0.4));
    this.timer.unref();
  }

  /** A round soon, at most one per debounce interval however many announcements arrive. */
  private soon(): void {
    if (this.pending !== undefined || this.users === 0) return;
    const wait = Math.max(0, this.lastRound + ANNOUNCE_DEBOUNCE_MS - Date.now()) + Math.random() * 50;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.refresh(true);
    }, wait);
    this.pending.unref();
  }
}
