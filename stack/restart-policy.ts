// When to restart a supervised child (the dev stack's worker, API and Klarna simulator) after it
// exits on its own: exponential back-off, forgotten once a run has lasted long enough to count as
// stable. Pure: no clock, no timers; the supervisor (stack/supervised-child.ts) feeds it how long
// the run lasted and waits the delay it returns.

export interface BackoffOptions {
  /** Delay before the first restart after a crash (default 1 s). */
  initialDelayMs: number;
  /** Longest delay (default 30 s). */
  maxDelayMs: number;
  /** Each further crash in a row multiplies the delay by this (default 2). */
  factor: number;
  /** A run that lasted at least this long was stable: the next crash starts again at `initialDelayMs` (default 60 s). */
  stableAfterMs: number;
}

export const defaultBackoff: Readonly<BackoffOptions> = Object.freeze({
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  factor: 2,
  stableAfterMs: 60_000,
});

export interface RestartState {
  /** Crashes in a row, none of them after a stable run. */
  readonly consecutiveCrashes: number;
}

/** A fresh child (or one restarted on purpose, e.g. after a code change) has no crash history. */
export const initialRestartState: RestartState = Object.freeze({ consecutiveCrashes: 0 });

export interface RestartDecision {
  /** Wait this long, then start the child again. */
  delayMs: number;
  /** This crash's number in the current run of crashes (1 = first since start or since a stable run). */
  attempt: number;
  /** True when the run that just ended was stable, so earlier crashes were forgotten. */
  wasStable: boolean;
  /** The state to pass to the next call. */
  state: RestartState;
}

/** Fills in defaults and rejects options that would make no sense (a zero delay loops hot). */
export function backoffOptions(overrides: Partial<BackoffOptions> = {}): BackoffOptions {
  const options = { ...defaultBackoff, ...overrides };
  const problems: string[] = [];
  if (!(Number.isFinite(options.initialDelayMs) && options.initialDelayMs > 0)) problems.push('initialDelayMs must be > 0');
  if (!(Number.isFinite(options.maxDelayMs) && options.maxDelayMs >= options.initialDelayMs)) problems.push('maxDelayMs must be >= initialDelayMs');
  if (!(Number.isFinite(options.factor) && options.factor >= 1)) problems.push('factor must be >= 1');
  if (!(Number.isFinite(options.stableAfterMs) && options.stableAfterMs >= 0)) problems.push('stableAfterMs must be >= 0');
  if (problems.length) throw new RangeError(`invalid back-off: ${problems.join('; ')}`);
  return options;
}

/** The delay before restarting after the `attempt`-th crash in a row (1-based): initial × factor^(attempt-1), capped. */
export function backoffDelay(attempt: number, options: BackoffOptions = defaultBackoff): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a positive integer, got ${attempt}`);
  // Math.pow can overflow to Infinity for long crash loops; the cap still applies.
  return Math.min(options.maxDelayMs, Math.round(options.initialDelayMs * Math.pow(options.factor, attempt - 1)));
}

/** What to do after the child exited on its own after running for `ranForMs`. */
export function afterCrash(state: RestartState, ranForMs: number, options: BackoffOptions = defaultBackoff): RestartDecision {
  const wasStable = ranForMs >= options.stableAfterMs;
  const attempt = (wasStable ? 0 : state.consecutiveCrashes) + 1;
  return { delayMs: backoffDelay(attempt, options), attempt, wasStable, state: { consecutiveCrashes: attempt } };
}

/** `750 ms`, `1 s`, `2.5 s`, `30 s`: for log lines. */
export function formatDelay(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1_000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}
