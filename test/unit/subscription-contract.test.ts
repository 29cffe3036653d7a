import { describe, expect, it } from 'vitest';
import { createSubscriptionRequest, subscriptionKey } from '../../contracts/subscription.js';
import { deadTokenKinds, isRetryableRenewalFailure, periodChargeId, planFromRequest } from '../../contracts/subscription-rules.js';
import { chargeFlowIdSchema } from '../../contracts/charge.js';

const body = (overrides: object = {}) => ({
  token_ref: `ctok_${'a'.repeat(32)}`,
  purchase_currency: 'SEK',
  order_amount: 19900,
  order_lines: [{ type: 'digital', name: 'Coffee', quantity: 1, unit_price: 19900, total_amount: 19900 }],
  interval: 'MONTH',
  interval_count: 1,
  billing_anchor: new Date().toISOString(),
  time_zone: 'Europe/Stockholm',
  merchant_reference: 'coffee-1',
  ...overrides,
});

describe('subscription contract', () => {
  it('fills in the documented defaults: catch_up charge_latest, dunning 1, 3, 7 days then SUSPEND', () => {
    const parsed = createSubscriptionRequest.parse(body());
    expect(parsed.catch_up).toBe('charge_latest');
    expect(parsed.dunning).toEqual({ retry_after_days: [1, 3, 7], on_exhausted: 'SUSPEND' });
  });

  it('names every bad field: cadence, zone, anchor, line arithmetic', () => {
    const result = createSubscriptionRequest.safeParse(
      body({ interval: 'HOUR', interval_count: 0, time_zone: 'Europe/Atlantis', billing_anchor: '2027-01-31', order_amount: 100 }),
    );
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['interval', 'interval_count', 'time_zone', 'billing_anchor', 'order_amount']));
    expect(createSubscriptionRequest.safeParse(body({ billing_anchor: '2020-01-01T00:00:00Z' })).error?.issues.map((i) => i.path.join('.'))).toEqual(['billing_anchor']);
  });

  it("adds Klarna's subscription object to plain lines, not to discounts or ones that have it", () => {
    const plan = planFromRequest(
      {
        purchase_currency: 'SEK',
        order_amount: 18900,
        order_lines: [
          { type: 'digital', name: 'Coffee', quantity: 1, unit_price: 19900, total_amount: 19900, total_tax_amount: 3980, tax_rate: 2500 },
          { type: 'discount', name: 'Welcome', quantity: 1, unit_price: -1000, total_amount: -1000 },
        ],
      },
      { interval: 'WEEK', interval_count: 2 },
    );
    expect(plan.order_lines[0]!.subscription).toEqual({ name: 'Coffee', interval: 'WEEK', interval_count: 2 });
    expect(plan.order_lines[1]!.subscription).toBeUndefined();
    expect(plan.order_tax_amount).toBe(3980);
  });

  it('period charge ids are deterministic and valid charge ids even for the longest key', () => {
    expect(periodChargeId('sub-coffee-1', 0)).toBe('charge-sub-coffee-1-0');
    expect(periodChargeId('sub-coffee-1', 7, 2)).toBe('charge-sub-coffee-1-7-retry-2');
    const longest = `sub-${'k'.repeat(96)}`;
    expect(subscriptionKey.safeParse('k'.repeat(96)).success).toBe(true);
    expect(subscriptionKey.safeParse('k'.repeat(97)).success).toBe(false);
    expect(chargeFlowIdSchema.safeParse(periodChargeId(longest, 999_999, 10)).success).toBe(true);
  });

  it('dunning retries payment failures, never a dead token', () => {
    for (const kind of ['payment_method_failed', 'payment_method_unavailable', 'rejected', 'deadline_exceeded']) expect(isRetryableRenewalFailure(kind), kind).toBe(true);
    for (const kind of [...deadTokenKinds, 'currency_mismatch', 'invalid_request']) expect(isRetryableRenewalFailure(kind), kind).toBe(false);
  });
});
