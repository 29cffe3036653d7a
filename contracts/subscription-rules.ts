// The subscription workflow's rules as plain code: charge ids, dunning kinds, the plan and each
// period's charge. The workflow imports this module, and the workflow sandbox evaluates every
// module a workflow imports again for each run: only type imports here (no zod; see
// docs/performance.md, "The workflow bundle"). The zod schemas and types are in contracts/subscription.ts.
import type { ChargeInput } from './charge.js';
import { chargeFlowIdPrefix } from './flow-states.js';
import type { CreateSubscriptionRequest, Plan, SubscriptionInput, SubscriptionStatus } from './subscription.js';

export const dayMs = 86_400_000;
export const MAX_PERIODS_KEPT = 36;

/** Charge id of period `n`'s first try, and of dunning retry `k` (1-based). Deterministic: REJECT_DUPLICATE makes each at most one order. */
export const periodChargeId = (subId: string, n: number, retry = 0) => `${chargeFlowIdPrefix}${subId}-${n}${retry > 0 ? `-retry-${retry}` : ''}`;

/** Under `skip`, a period due at most this long ago still counts as on time (a worker restart, not downtime). */
export const ON_TIME_TOLERANCE_MS = 3_600_000;

/** Failure kinds that say the token is dead: dunning stops at once. */
export const deadTokenKinds = ['token_not_found', 'token_suspended', 'token_cancelled', 'token_forbidden', 'token_ref_unknown'] as const;
/** Failure kinds worth another try later (dunning). Any other kind ends dunning like a dead token. */
export const retryableRenewalKinds = ['payment_method_failed', 'payment_method_unavailable', 'rejected', 'deadline_exceeded', 'step_up_required', 'internal'] as const;
export const isRetryableRenewalFailure = (kind: string) => (retryableRenewalKinds as readonly string[]).includes(kind);

export function planFromRequest(body: Pick<CreateSubscriptionRequest, 'purchase_currency' | 'order_amount' | 'order_tax_amount' | 'order_lines'>, cadence: { interval: string; interval_count: number }): Plan {
  return {
    purchase_currency: body.purchase_currency,
    order_amount: body.order_amount,
    order_tax_amount: body.order_tax_amount ?? body.order_lines.reduce((t, l) => t + (l.total_tax_amount ?? 0), 0),
    // Klarna wants the subscription object on subscription lines (seed 001): added where missing.
    order_lines: body.order_lines.map((line) =>
      line.subscription || line.type === 'discount' || line.type === 'shipping_fee' || line.type === 'sales_tax'
        ? line
        : { ...line, subscription: { name: line.name, interval: cadence.interval as 'MONTH', interval_count: cadence.interval_count } },
    ),
  };
}

/** The child charge's input for one try of one period. */
export function periodChargeInput(input: SubscriptionInput, status: SubscriptionStatus, chargeId: string, n: number): ChargeInput {
  const p = status.plan;
  return {
    flow_id: chargeId,
    merchant_reference: `${status.merchant_reference}-${n}`,
    token_ref: status.token_ref,
    customer_present: false,
    order: {
      purchase_currency: p.purchase_currency,
      order_amount: p.order_amount,
      order_tax_amount: p.order_tax_amount,
      order_lines: p.order_lines,
      merchant_reference1: `${status.merchant_reference}-${n}`,
      merchant_reference2: status.flow_id,
      ...(input.locale ? { locale: input.locale } : {}),
    },
    retry_deadline_ms: input.charge_retry_deadline_ms ?? 10 * 60_000,
  };
}

/** A new subscription's status: ACTIVE, period 0 due at `nextBillingAt`, nothing charged yet. */
export function initialSubscriptionStatus(input: SubscriptionInput, nextBillingAt: string, now: string): SubscriptionStatus {
  return {
    flow_id: input.flow_id,
    flow_type: 'subscription',
    state: 'ACTIVE',
    merchant_reference: input.merchant_reference,
    token_ref: input.token_ref,
    plan: input.plan,
    interval: input.interval,
    interval_count: input.interval_count,
    billing_anchor: input.billing_anchor,
    time_zone: input.time_zone,
    catch_up: input.catch_up,
    dunning: input.dunning,
    next_period: 0,
    next_billing_at: nextBillingAt,
    periods: [],
    started_at: now,
    updated_at: now,
  };
}

/** The workflow input for a validated create request (the API's start). */
export function subscriptionInputFromRequest(flowId: string, body: CreateSubscriptionRequest, fingerprint?: string): SubscriptionInput {
  return {
    flow_id: flowId,
    merchant_reference: body.merchant_reference,
    token_ref: body.token_ref,
    plan: planFromRequest(body, body),
    ...(body.locale ? { locale: body.locale } : {}),
    interval: body.interval,
    interval_count: body.interval_count,
    billing_anchor: new Date(body.billing_anchor).toISOString(),
    time_zone: body.time_zone,
    catch_up: body.catch_up,
    dunning: body.dunning,
    ...(fingerprint ? { request_fingerprint: fingerprint } : {}),
  };
}
