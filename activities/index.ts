import { createTokenizeActivities, type TokenizeActivityDeps } from './tokenize-activities.js';

export type ActivityDeps = TokenizeActivityDeps;

/** Every activity the worker registers, wired to injected dependencies (real or fake in tests). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createTokenizeActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
