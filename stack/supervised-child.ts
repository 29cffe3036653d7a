import {
  describeExit,
  registerSupervisor,
  spawnChild,
  type ChildOptions,
  type ExitInfo,
  type ManagedChild,
} from './child-processes.js';
import { afterCrash, backoffOptions, formatDelay, initialRestartState, type BackoffOptions } from './restart-policy.js';

// A child process that comes back: when it exits without having been asked to, it is started
// again after a back-off delay (stack/restart-policy.ts), each time with a report of why it ended.
// `restart()` replaces it at once (watch mode: its code changed); `stop()` ends it for good, and
// so does `stopAllChildren()` (the supervisor registers itself there).

export interface SupervisedChildOptions extends Omit<ChildOptions, 'onUnexpectedExit'> {
  /** Back-off after crashes; defaults in stack/restart-policy.ts (1 s doubling to 30 s, reset after 60 s up). */
  backoff?: Partial<BackoffOptions>;
  /** Where the supervisor reports crashes and restarts (default: stderr). */
  log?: (message: string) => void;
  /** Called with each run's child as soon as it is spawned (`run` counts from 1). */
  onStart?: (child: ManagedChild, run: number) => void;
}

export interface SupervisedChild {
  readonly name: string;
  /** The running child; undefined while waiting to restart and after `stop()`. */
  current(): ManagedChild | undefined;
  /** How many times the child has been started. */
  runs(): number;
  /** The running child, or the next one once it starts; rejects if the supervisor stops first. */
  running(): Promise<ManagedChild>;
  /**
   * Stops the running child (SIGTERM, grace period, SIGKILL) and starts it again at once, with
   * the back-off reset; cancels a pending delayed restart. Calls while one is under way are
   * folded into one more restart after it.
   */
  restart(reason: string): Promise<void>;
  /** Stops the child, cancels any pending restart, never starts it again. Idempotent. */
  stop(): Promise<void>;
  isStopped(): boolean;
}

/** Starts `command args` as `name` and keeps it running until `stop()`. */
export function superviseChild(name: string, command: string, args: readonly string[], options: SupervisedChildOptions = {}): SupervisedChild {
  const { backoff, log = (message: string) => process.stderr.write(`${message}\n`), onStart, ...childOptions } = options;
  const policy = backoffOptions(backoff);
  let state = initialRestartState;
  let child: ManagedChild | undefined;
  let startedAt = 0;
  let runs = 0;
  let stopped = false;
  let stopping: Promise<void> | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let waiters: { resolve: (child: ManagedChild) => void; reject: (err: Error) => void }[] = [];
  let restartChain: Promise<void> = Promise.resolve();
  let restartQueued = false;

  const launch = () => {
    runs += 1;
    startedAt = Date.now();
    const started = spawnChild(name, command, args, { ...childOptions, onUnexpectedExit: (c, exit) => onCrash(c, exit) });
    child = started;
    onStart?.(started, runs);
    const ready = waiters;
    waiters = [];
    for (const waiter of ready) waiter.resolve(started);
  };

  const onCrash = (crashed: ManagedChild, exit: ExitInfo) => {
    if (stopped || crashed !== child) return;
    child = undefined;
    const ranForMs = Date.now() - startedAt;
    const decision = afterCrash(state, ranForMs, policy);
    state = decision.state;
    const streak = decision.attempt > 1 ? `, crash ${decision.attempt} in a row` : '';
    const tail = childOptions.echo === false ? `\n${indent(crashed.recentOutput())}` : '';
    log(`${name} ${describeExit(exit)} after ${formatDelay(ranForMs)}; restarting in ${formatDelay(decision.delayMs)}${streak}${tail}`);
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (stopped) return;
      log(`restarting ${name} (run ${runs + 1})`);
      launch();
    }, decision.delayMs);
  };

  const supervised: SupervisedChild = {
    name,
    current: () => child,
    runs: () => runs,
    isStopped: () => stopped,
    running() {
      // An exited child whose crash is not processed yet is not "running": wait for its successor.
      if (child && !child.hasExited()) return Promise.resolve(child);
      if (stopped) return Promise.reject(new Error(`${name} was stopped`));
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    restart(reason) {
      if (stopped) return Promise.resolve();
      if (restartQueued) return restartChain;
      restartQueued = true;
      restartChain = restartChain.then(async () => {
        restartQueued = false;
        if (stopped) return;
        clearTimeout(restartTimer);
        restartTimer = undefined;
        state = initialRestartState;
        log(`restarting ${name}: ${reason}`);
        const previous = child;
        child = undefined;
        await previous?.stop();
        if (!stopped) launch();
      });
      return restartChain;
    },
    stop() {
      stopping ??= (async () => {
        stopped = true;
        unregister();
        clearTimeout(restartTimer);
        restartTimer = undefined;
        const pending = waiters;
        waiters = [];
        for (const waiter of pending) waiter.reject(new Error(`${name} was stopped`));
        // A restart under way may have taken the child out of `child` already; it stops it too.
        await child?.stop();
        await restartChain;
      })();
      return stopping;
    },
  };

  const unregister = registerSupervisor(supervised);
  launch();
  return supervised;
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
