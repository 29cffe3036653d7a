import { createFlowStorageActivities, type FlowStorageActivityDeps } from './flow-storage-activities.js';
import { createTokenizeActivities, type TokenizeActivityDeps } from './tokenize-activities.js';

export type ActivityDeps = TokenizeActivityDeps & FlowStorageActivityDeps;

/** Every activity the worker registers, wired to injected dependencies (real or fake in tests). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createTokenizeActivities(deps),
    ...createFlowStorageActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
