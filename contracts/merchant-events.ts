import { z } from 'zod';

// Notifications to the merchant (outbound webhooks): what happened, without polling.

export const merchantEventType = z.enum([
  'renewal.succeeded',
  'renewal.failed',
  'subscription.past_due',
  'subscription.suspended',
  'subscription.cancelled',
  'token.status_changed',
]);
export type MerchantEventType = z.infer<typeof merchantEventType>;

/** The body POSTed to the merchant's endpoint (JSON), signed (see klarna/… merchant-signature). */
export const merchantEvent = z.object({
  /** Unique and stable: a redelivery carries the same id, so the merchant can de-duplicate. */
  id: z.string(),
  type: merchantEventType,
  created_at: z.string(),
  subscription_id: z.string().optional(),
  charge_id: z.string().optional(),
  token_ref: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
});
export type MerchantEvent = z.infer<typeof merchantEvent>;

export const deliveryAttempt = z.object({ at: z.string(), status: z.number().int().optional(), error: z.string().optional() });

/** An event with its delivery log, as `GET /v1/merchant-events` shows it. */
export const merchantEventRecord = merchantEvent.extend({
  deliveries: z.array(
    z.object({
      endpoint: z.string(),
      state: z.enum(['pending', 'delivered', 'gave_up']),
      attempts: z.array(deliveryAttempt),
    }),
  ),
});
export type MerchantEventRecord = z.infer<typeof merchantEventRecord>;

export { defaultDeliveryPolicy, type DeliveryPolicy } from './delivery-policy.js';
