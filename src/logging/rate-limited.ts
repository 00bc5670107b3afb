/**
 * A log line for a fault that can repeat on every request: the first occurrence is written at
 * once, later ones at most once per interval, each carrying how many were left out since.
 */
import type { LogFields, Logger, LogLevel } from './logger.ts';

export class RateLimitedLog {
  private readonly logger: Logger;
  private readonly level: LogLevel;
  private readonly intervalMs: number;
  private last = -Infinity;
  private suppressed = 0;

  constructor(logger: Logger, level: LogLevel, intervalMs = 60_000) {
    this.logger = logger;
    this.level = level;
    this.intervalMs = intervalMs;
  }

  /** Whether the next `write` would be written (not suppressed). */
  get due(): boolean {
    return Date.now() - this.last >= this.intervalMs;
  }

  /** The fault is over: its next occurrence is written at once. */
  reset(): void {
    this.last = -Infinity;
    this.suppressed = 0;
  }

  write(msg: string, fields: () => LogFields): void {
    if (!this.logger.isEnabled(this.level)) return;
    const now = Date.now();
    if (now - this.last < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.last = now;
    const extra = this.suppressed > 0 ? { suppressed_since_last: this.suppressed } : {};
    this.suppressed = 0;
    this.logger[this.level](msg, { ...fields(), ...extra });
  }
}
