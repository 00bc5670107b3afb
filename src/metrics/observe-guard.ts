/**
 * Runs a user's observable callback so that it cannot hurt a collection:
 * - a callback that throws or rejects keeps what it observed before failing, the failure is
 *   logged once, and no other series is touched (the SDK, left alone, drops the whole instrument);
 * - a callback that does not settle within `timeoutMs` costs that collection its observations,
 *   not the collection itself: the collection goes on without it;
 * - while a call is still unsettled the callback is not called again, so a callback that never
 *   settles holds one pending call, not one per scrape.
 */
import type { Logger } from '../logging/logger.ts';
import type { Labels } from './label-binder.ts';

export interface GuardedResult {
  observe(value: number, labels?: Labels): void;
}

/** `wrap` turns the SDK's result into the one the user's callback sees. */
export function guardCallback<S>(
  metric: string,
  callback: (result: GuardedResult) => void | Promise<void>,
  wrap: (result: S) => GuardedResult,
  logger: Logger,
  timeoutMs: number,
): (result: S) => Promise<void> {
  let pending = false;
  return async (result) => {
    if (pending) {
      logger.once(`callback-pending:${metric}`, 'warn', 'observable callback still running from an earlier collection; skipped', { metric });
      return;
    }
    let open = true;
    const inner = wrap(result);
    const scoped: GuardedResult = {
      observe: (value, labels) => {
        if (open) inner.observe(value, labels);
      },
    };
    const failed = (error: unknown): void => {
      logger.once(`callback-error:${metric}`, 'warn', 'observable callback failed; what it observed before failing is kept', { metric, error });
    };
    let returned: void | Promise<void>;
    try {
      returned = callback(scoped);
    } catch (error) {
      failed(error);
      return;
    }
    if (!(returned instanceof Promise)) return;
    pending = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const settled = returned.then(
      () => {
        pending = false;
        return 'done' as const;
      },
      (error: unknown) => {
        pending = false;
        failed(error);
        return 'done' as const;
      },
    );
    const outcome = await Promise.race([settled, timedOut]);
    clearTimeout(timer);
    open = false;
    if (outcome === 'timeout') {
      logger.once(`callback-timeout:${metric}`, 'warn', 'observable callback did not settle in time; this collection goes on without it', { metric, timeout_ms: timeoutMs });
    }
  };
}
