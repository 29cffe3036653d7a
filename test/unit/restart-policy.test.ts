import { describe, expect, it } from 'vitest';
import {
  afterCrash,
  backoffDelay,
  backoffOptions,
  defaultBackoff,
  formatDelay,
  initialRestartState,
  type RestartState,
} from '../../stack/restart-policy.js';

// The dev stack's restart policy (stack/restart-policy.ts): pure, so every case is a table.

/** Feeds `runs` (how long each run lasted before it crashed) through the policy; returns the delays. */
function delaysFor(runs: number[], options = defaultBackoff): number[] {
  let state: RestartState = initialRestartState;
  return runs.map((ranForMs) => {
    const decision = afterCrash(state, ranForMs, options);
    state = decision.state;
    return decision.delayMs;
  });
}

describe('restart back-off', () => {
  it('defaults to 1 s doubling to 30 s, reset after 60 s up', () => {
    expect(defaultBackoff).toEqual({ initialDelayMs: 1_000, maxDelayMs: 30_000, factor: 2, stableAfterMs: 60_000 });
  });

  it('doubles the delay for each crash in a row and caps it', () => {
    expect(delaysFor(Array(8).fill(100))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('numbers the crashes in a row', () => {
    const first = afterCrash(initialRestartState, 10);
    const second = afterCrash(first.state, 10);
    expect([first.attempt, second.attempt]).toEqual([1, 2]);
    expect([first.wasStable, second.wasStable]).toEqual([false, false]);
  });

  it('forgets earlier crashes once a run lasted stableAfterMs', () => {
    // Three quick crashes, then a run of exactly 60 s, then quick crashes again.
    expect(delaysFor([10, 10, 10, 60_000, 10, 10])).toEqual([1_000, 2_000, 4_000, 1_000, 2_000, 4_000]);
    const decision = afterCrash({ consecutiveCrashes: 5 }, 60_000);
    expect(decision).toMatchObject({ attempt: 1, wasStable: true, delayMs: 1_000, state: { consecutiveCrashes: 1 } });
  });

  it('keeps counting after a run just short of stable', () => {
    expect(delaysFor([10, 59_999, 59_999])).toEqual([1_000, 2_000, 4_000]);
  });

  it('applies custom options', () => {
    const options = backoffOptions({ initialDelayMs: 100, maxDelayMs: 1_000, factor: 3, stableAfterMs: 500 });
    expect(delaysFor([1, 1, 1, 1, 600, 1], options)).toEqual([100, 300, 900, 1_000, 100, 300]);
    // factor 1: a constant delay
    expect(delaysFor([1, 1, 1], backoffOptions({ factor: 1 }))).toEqual([1_000, 1_000, 1_000]);
  });

  it('stays capped, not Infinity or NaN, after a very long crash loop', () => {
    expect(backoffDelay(5_000)).toBe(30_000);
    expect(delaysFor(Array(2_000).fill(0)).at(-1)).toBe(30_000);
  });

  it('does not mutate the state it is given', () => {
    const state = { consecutiveCrashes: 2 };
    afterCrash(state, 10);
    expect(state).toEqual({ consecutiveCrashes: 2 });
    expect(initialRestartState).toEqual({ consecutiveCrashes: 0 });
  });

  it('rejects options that would loop hot or shrink', () => {
    expect(() => backoffOptions({ initialDelayMs: 0 })).toThrow(/initialDelayMs must be > 0/);
    expect(() => backoffOptions({ initialDelayMs: 2_000, maxDelayMs: 1_000 })).toThrow(/maxDelayMs must be >= initialDelayMs/);
    expect(() => backoffOptions({ factor: 0.5 })).toThrow(/factor must be >= 1/);
    expect(() => backoffOptions({ stableAfterMs: -1 })).toThrow(/stableAfterMs/);
    expect(() => backoffOptions({ initialDelayMs: Number.NaN })).toThrow(RangeError);
    expect(() => backoffDelay(0)).toThrow(RangeError);
    expect(() => backoffDelay(1.5)).toThrow(RangeError);
  });

  it('formats delays for log lines', () => {
    expect([formatDelay(250), formatDelay(1_000), formatDelay(2_500), formatDelay(30_000)]).toEqual(['250 ms', '1 s', '2.5 s', '30 s']);
  });
});
