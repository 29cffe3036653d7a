import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { defaultDeliveryPolicy, type DeliveryPolicy } from '../contracts/delivery-policy.js';
import type { MerchantEvent } from '../contracts/merchant-events.js';
import { ownStorage } from './activity-presets.js';

const { recordMerchantEvent, giveUpMerchantEvent } = proxyActivities<Activities>(ownStorage);

/**
 * Delivers one event to every configured merchant endpoint, at least once, durably: the workflow id
 * is the event id (one delivery run per event, ever), and each endpoint's POST is an activity
 * retried with back-off until a 2xx or the policy's deadline. Started by the flows that emit the
 * event (child, ABANDON), so a slow receiver never holds a flow up.
 */
export async function merchantEventDeliveryWorkflow(input: { event: MerchantEvent; policy?: DeliveryPolicy }): Promise<void> {
  const policy = input.policy ?? defaultDeliveryPolicy;
  const endpoints = await recordMerchantEvent(input.event);
  const { deliverMerchantEvent } = proxyActivities<Activities>({
    startToCloseTimeout: '30s',
    scheduleToCloseTimeout: policy.give_up_after_ms,
    retry: { initialInterval: policy.initial_ms, backoffCoefficient: 2, maximumInterval: policy.max_ms },
  });
  await Promise.all(
    Array.from({ length: endpoints }, async (_, index) => {
      try {
        await deliverMerchantEvent({ event: input.event, index });
      } catch {
        await giveUpMerchantEvent({ event_id: input.event.id, index });
      }
    }),
  );
}
