import { createBuyAndTokenizeActivities, type BuyAndTokenizeActivityDeps } from './buy-and-tokenize-activities.js';
import { createChargeActivities, type ChargeActivityDeps } from './charge-activities.js';
import { createFlowStorageActivities, type FlowStorageActivityDeps } from './flow-storage-activities.js';
import { createMerchantNotificationActivities, type MerchantNotificationDeps } from './merchant-notification-activities.js';
import { createStepUpActivities } from './step-up-activities.js';
import { createSubscriptionActivities } from './subscription-activities.js';
import { createTokenizeActivities, type TokenizeActivityDeps } from './tokenize-activities.js';
import { createV2Activities, type V2ActivityDeps } from './v2-activities.js';

export type ActivityDeps = TokenizeActivityDeps & FlowStorageActivityDeps & ChargeActivityDeps & BuyAndTokenizeActivityDeps & MerchantNotificationDeps & V2ActivityDeps;

/** Every activity the worker registers, wired to injected dependencies (real or fake in tests). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createTokenizeActivities(deps),
    ...createFlowStorageActivities(deps),
    ...createChargeActivities(deps),
    ...createBuyAndTokenizeActivities(deps),
    ...createSubscriptionActivities(deps),
    ...createMerchantNotificationActivities(deps),
    ...createStepUpActivities(deps),
    ...createV2Activities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
