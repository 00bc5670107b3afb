/**
 * Waiting in tests: every wait is a condition with a deadline, never a sleep followed by an
 * assertion. A sleep passes on a fast machine for the wrong reason and fails on a loaded one for
 * no reason; a condition waits exactly as long as the system needs, and when it does fail the
 * message says what was awaited and what was last seen.
 */

export interface WaitOptions<T> {
  /** What is awaited, in words: it names the failure. Required, so no failure reads "condition". */
  what: string;
  /** Give up after this long. Default 10 000 ms: generous, since a deadline is a hang detector, not a speed check. */
  timeoutMs?: number;
  /** Pause between polls. Default 20 ms. */
  intervalMs?: number;
  /** When the probed value counts as done. Default: anything but `undefined` and `false`. */
  until?: (value: T) => boolean;
}

const defaultUntil = (value: unknown): boolean => value !== undefined && value !== false;

/**
 * Polls `probe` (sync or async) until `until(value)` holds and returns that value. A probe that
 * throws counts as "not yet" (e.g. a server still starting); the last error or value seen goes
 * into the timeout message.
 */
export function waitFor<T>(probe: () => T | Promise<T>, options: WaitOptions<T> & { until: (value: T) => boolean }): Promise<T>;
export function waitFor<T>(probe: () => T | Promise<T>, options: Omit<WaitOptions<T>, 'until'>): Promise<Exclude<T, undefined | false>>;
export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitOptions<T>): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 20;
  const until = options.until ?? defaultUntil;
  const deadline = Date.now() + timeoutMs;
  let last: { value: T } | { error: unknown } | undefined;
  for (;;) {
    try {
      const value = await probe();
      if (until(value)) return value;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() >= deadline) {
      const seen = last === undefined ? 'nothing' : 'error' in last ? `error ${describe(last.error)}` : `value ${describe(last.value)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what}; last seen: ${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Waits until `probe()` equals `expected` (deep equality of JSON renderings), returning it. */
export function waitForValue<T>(probe: () => T | Promise<T>, expected: T, options: Omit<WaitOptions<T>, 'until'>): Promise<T> {
  const want = JSON.stringify(expected);
  return waitFor(probe, { ...options, what: `${options.what} to be ${want}`, until: (value) => JSON.stringify(value) === want });
}

/**
 * `promise`, or a failure naming `what` if it has not settled within `timeoutMs`: turns a hang
 * into a clear message instead of the runner's blanket timeout. A hang detector, not a speed
 * check — give it room for a loaded machine.
 */
export async function withDeadline<T>(promise: Promise<T>, what: string, timeoutMs = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 500 ? `${text.slice(0, 500)}…` : text;
  } catch {
    return String(value);
  }
}
