/**
 * SIGINT/SIGTERM for every runtime of the process that asked for it (`handleSignals`), through one
 * listener per signal. Signals belong to the process, not to a runtime, so this is the one piece
 * of process-wide state in the package: two runtimes must not race each other to exit.
 *
 * On a signal, every registered runtime shuts down gracefully, together. Then:
 * - the application has its own listener for that signal: we stop there. Its handler runs to
 *   completion and the process ends when the application says so (or when nothing is left to do);
 * - ours were the only listeners (without us, Node would have ended the process at once): we exit,
 *   0 when every shutdown succeeded, 1 otherwise — after the last runtime has finished, never before.
 * Our listeners are removed as soon as the signal arrives, so a second Ctrl-C gets Node's default
 * (an immediate exit) unless the application listens.
 */

/** What the coordinator needs of a runtime. */
export interface SignalTarget {
  shutdown(): Promise<void>;
  onSignalShutdownFailed(error: unknown): void;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
type Signal = (typeof SIGNALS)[number];

const targets = new Set<SignalTarget>();
let installed = false;

function onSignal(signal: Signal): void {
  // Counted before ours go: anyone else listening is the application (or a tool it chose).
  const applicationListens = process.listenerCount(signal) > 1;
  uninstall();
  const draining = [...targets];
  targets.clear();
  void Promise.allSettled(
    draining.map((target) =>
      target.shutdown().catch((error: unknown) => {
        target.onSignalShutdownFailed(error);
        throw error;
      }),
    ),
  ).then((results) => {
    if (applicationListens) return;
    process.exit(results.some((r) => r.status === 'rejected') ? 1 : 0);
  });
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/** `target` shuts down on SIGINT/SIGTERM from now on. */
export function handleShutdownSignals(target: SignalTarget): void {
  targets.add(target);
  install();
}

/** `target` no longer does (it shut down by itself); the listeners go with the last target. */
export function releaseShutdownSignals(target: SignalTarget): void {
  targets.delete(target);
  if (targets.size === 0) uninstall();
}
