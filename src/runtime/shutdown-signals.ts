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

/** What the coordinator needs of a runtime: a shutdown that also logs the signal and any failure. */
export interface SignalTarget {
  shutdownOnSignal(signal: NodeJS.Signals): Promise<void>;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

interface Coordinator {
  readonly targets: Set<SignalTarget>;
  readonly onSignal: (signal: NodeJS.Signals) => void;
  installed: boolean;
}

/**
 * Kept on `globalThis` under a registered symbol, so that an application that loads both the ES
 * module and the CommonJS build (or two copies of the package) still has one coordinator: two
 * would each take the other's listener for the application's and never exit.
 */
const KEY = Symbol.for('dynamo-otel.shutdown-signals.v1');
const coordinator: Coordinator = ((globalThis as Record<symbol, Coordinator | undefined>)[KEY] ??= createCoordinator());

function createCoordinator(): Coordinator {
  const self: Coordinator = {
    targets: new Set(),
    installed: false,
    onSignal: (signal) => {
      // Counted before ours go: anyone else listening is the application (or a tool it chose).
      const applicationListens = process.listenerCount(signal) > 1;
      uninstall(self);
      const draining = [...self.targets];
      self.targets.clear();
      void Promise.allSettled(draining.map((target) => target.shutdownOnSignal(signal))).then((results) => {
        if (applicationListens) return;
        process.exit(results.some((r) => r.status === 'rejected') ? 1 : 0);
      });
    },
  };
  return self;
}

function install(c: Coordinator): void {
  if (c.installed) return;
  c.installed = true;
  for (const signal of SIGNALS) process.on(signal, c.onSignal);
}

function uninstall(c: Coordinator): void {
  if (!c.installed) return;
  c.installed = false;
  for (const signal of SIGNALS) process.off(signal, c.onSignal);
}

/** `target` shuts down on SIGINT/SIGTERM from now on. */
export function handleShutdownSignals(target: SignalTarget): void {
  coordinator.targets.add(target);
  install(coordinator);
}

/** `target` no longer does (it shut down by itself); the listeners go with the last target. */
export function releaseShutdownSignals(target: SignalTarget): void {
  coordinator.targets.delete(target);
  if (coordinator.targets.size === 0) uninstall(coordinator);
}
