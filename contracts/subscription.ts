import { z } from 'zod';
import type { DeliveryPolicy } from './merchant-events.js';
import { nonBlankText } from './text.js';
import { currencyCode, localeCode, minorUnits, orderLine } from '../klarna/payments-schemas.js';
import type { BillingInterval } from './billing-calendar.js';
import { isValidTimeZone } from './billing-calendar.js';
import { tokenRef } from './charge.js';
import { flowFailure } from './flow-status.js';
import { orderLineIssues, orderTotalIssues } from './klarna-market-rules.js';

// Subscriptions: one long-running workflow per subscription (`subscriptionWorkflow`, id
// `sub-<key>`) that charges each billing period once, as a child `chargeWorkflow`.

import { subscriptionIdPrefix } from './flow-states.js';
export { subscriptionIdPrefix };
/** Keys are shorter than other flows' so that `charge-sub-<key>-<n>-retry-<k>` stays a valid charge id. */
export const maxSubscriptionKeyLength = 96;
export const subscriptionKey = z
  .string()
  .regex(new RegExp(`^[A-Za-z0-9._:-]{1,${maxSubscriptionKeyLength}}$`), `must be 1-${maxSubscriptionKeyLength} characters of letters, digits, . _ : -`);
export const subscriptionId = (key: string) => `${subscriptionIdPrefix}${key}`;
export const subscriptionIdSchema = z
  .string()
  .regex(new RegExp(`^${subscriptionIdPrefix}[A-Za-z0-9._:-]{1,${maxSubscriptionKeyLength}}$`), 'must be a subscription id');

export const catchUpPolicy = z.enum(['charge_all', 'charge_latest', 'skip']);
export type CatchUpPolicy = z.infer<typeof catchUpPolicy>;

const DAY_MS = 86_400_000;
export const dunningSchedule = z.object({
  /** Retries after a failed renewal, each in days after the period's due date (default 1, 3, 7). */
  retry_after_days: z.array(z.number().positive().max(60)).max(10).default([1, 3, 7]),
  /** What the subscription becomes after the last failed try or a dead token. */
  on_exhausted: z.enum(['SUSPEND', 'CANCEL']).default('SUSPEND'),
});
export type DunningSchedule = z.infer<typeof dunningSchedule>;

const planFields = {
  purchase_currency: currencyCode,
  order_amount: minorUnits.min(1),
  order_tax_amount: minorUnits.min(0).optional(),
  order_lines: z.array(orderLine).min(1).max(1000),
};

function planIssues(body: unknown, ctx: z.RefinementCtx) {
  for (const issue of [...orderLineIssues((body as { order_lines?: unknown }).order_lines), ...orderTotalIssues(body as never)]) {
    ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  }
}
const anyObject = { when: (payload: { value: unknown }) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) };

/** How far back an anchor may lie: bounds what a `charge_all` catch-up can charge at the start. */
export const MAX_ANCHOR_AGE_MS = 366 * DAY_MS;

/** Body of `POST /v1/subscriptions`. */
export const createSubscriptionRequest = z
  .object({
    token_ref: tokenRef,
    ...planFields,
    interval: z.enum(['DAY', 'WEEK', 'MONTH', 'YEAR']),
    interval_count: z.number().int().min(1).max(365),
    /** Period 0 is due at this instant; every later one is computed from it in `time_zone`. */
    billing_anchor: z.iso.datetime({ offset: true }),
    time_zone: z.string().min(1).max(64).refine(isValidTimeZone, 'must be an IANA time zone, e.g. Europe/Stockholm'),
    merchant_reference: nonBlankText(200),
    locale: localeCode.optional(),
    catch_up: catchUpPolicy.default('charge_latest'),
    dunning: dunningSchedule.default({ retry_after_days: [1, 3, 7], on_exhausted: 'SUSPEND' }),
  })
  .superRefine(planIssues, anyObject)
  .refine((body) => Date.parse(body.billing_anchor) >= Date.now() - MAX_ANCHOR_AGE_MS, {
    path: ['billing_anchor'],
    message: 'must be at most 366 days in the past (catch-up charges every missed period under charge_all)',
  });
export type CreateSubscriptionRequest = z.infer<typeof createSubscriptionRequest>;

/** Body of `POST /v1/subscriptions/{id}/change`: the plan from the next period on. */
export const changeSubscriptionRequest = z
  .object({
    order_amount: minorUnits.min(1),
    order_tax_amount: minorUnits.min(0).optional(),
    order_lines: z.array(orderLine).min(1).max(1000),
  })
  .superRefine(planIssues, anyObject);
export type ChangeSubscriptionRequest = z.infer<typeof changeSubscriptionRequest>;

export const resumeSubscriptionRequest = z.object({
  /** Periods that fell due while paused or suspended: skipped unless a policy is given here. */
  catch_up: catchUpPolicy.optional(),
});
export const cancelSubscriptionRequest = z.object({
  /** Also cancel the customer token at Klarna (as DELETE /v1/tokens/{ref}; irreversible). */
  cancel_token: z.boolean().optional(),
});

export const subscriptionState = z.enum(['ACTIVE', 'PAUSED', 'PAST_DUE', 'SUSPENDED', 'CANCELLED']);
export type SubscriptionState = z.infer<typeof subscriptionState>;

export const periodState = z.enum(['CHARGING', 'PAID', 'RETRY_SCHEDULED', 'FAILED', 'SKIPPED']);
export const chargeAttempt = z.object({
  charge_id: z.string(),
  state: z.enum(['PLACING_ORDER', 'COMPLETED', 'FAILED']),
  order_id: z.string().optional(),
  failure_kind: z.string().optional(),
  at: z.string(),
});
export type ChargeAttempt = z.infer<typeof chargeAttempt>;
export const billingPeriod = z.object({
  index: z.number().int(),
  due_at: z.string(),
  state: periodState,
  /** Why it was skipped: `paused`, `missed` (catch-up policy) or `cancelled`. */
  skip_reason: z.string().optional(),
  order_amount: z.number().int(),
  attempts: z.array(chargeAttempt),
  next_retry_at: z.string().optional(),
});
export type BillingPeriod = z.infer<typeof billingPeriod>;

export const plan = z.object({
  purchase_currency: z.string(),
  order_amount: z.number().int(),
  order_tax_amount: z.number().int(),
  order_lines: z.array(orderLine),
});
export type Plan = z.infer<typeof plan>;

export const subscriptionStatus = z.object({
  flow_id: z.string(),
  flow_type: z.literal('subscription'),
  state: subscriptionState,
  merchant_reference: z.string(),
  token_ref: z.string(),
  plan,
  /** The plan from the next period on (POST …/change), until that period starts. */
  pending_plan: plan.optional(),
  interval: z.string(),
  interval_count: z.number().int(),
  billing_anchor: z.string(),
  time_zone: z.string(),
  catch_up: catchUpPolicy,
  dunning: z.object({ retry_after_days: z.array(z.number()), on_exhausted: z.enum(['SUSPEND', 'CANCEL']) }),
  /** The next period not yet settled and when it is due (absent once cancelled). */
  next_period: z.number().int(),
  next_billing_at: z.string().optional(),
  /** The latest periods (at most 36; older ones are the charges `charge-<id>-<n>`). */
  periods: z.array(billingPeriod),
  failure: flowFailure.optional(),
  cancelled_at: z.string().optional(),
  token_cancel: z.enum(['requested', 'done', 'failed']).optional(),
  started_at: z.string(),
  updated_at: z.string(),
});
export type SubscriptionStatus = z.infer<typeof subscriptionStatus>;

/** Workflow input; after continue-as-new also the state carried over. */
export interface SubscriptionInput {
  flow_id: string;
  merchant_reference: string;
  token_ref: string;
  plan: Plan;
  locale?: string;
  interval: BillingInterval;
  interval_count: number;
  billing_anchor: string;
  time_zone: string;
  catch_up: CatchUpPolicy;
  dunning: DunningSchedule;
  request_fingerprint?: string;
  /** Continue-as-new after this many settled periods in one run (default 12). */
  periods_per_run?: number;
  /** Retry deadline of each charge (default the charge's 10 min). */
  charge_retry_deadline_ms?: number;
  /** Tell the merchant (outbound webhooks) about renewals and state changes; set by the API. */
  notify_merchant?: boolean;
  /** Retries of the merchant notifications this subscription emits (default: defaultDeliveryPolicy). */
  notification_policy?: DeliveryPolicy;
  /** Set by continue-as-new. */
  carried?: { status: SubscriptionStatus; seq: number; resume_policy?: CatchUpPolicy };
}
