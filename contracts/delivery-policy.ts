// How merchant notifications are retried. Plain data (no zod): the delivery workflow imports it,
// and the workflow sandbox evaluates every module a workflow imports again for each run.

/** Delivery retries: back-off from `initial_ms` doubling to `max_ms`, for at most `give_up_after_ms`. */
export interface DeliveryPolicy {
  initial_ms: number;
  max_ms: number;
  give_up_after_ms: number;
}
export const defaultDeliveryPolicy: DeliveryPolicy = { initial_ms: 10_000, max_ms: 3_600_000, give_up_after_ms: 3 * 86_400_000 };
