import { z } from 'zod';
import { chargeFlowIdPrefix, chargeStates } from './flow-states.js';
import { nonBlankText } from './text.js';
import { durationMs } from '../config/duration.js';
import { currencyCode, localeCode, minorUnits, orderLine } from '../klarna/payments-schemas.js';
import { flowFailure } from './flow-status.js';
import { orderLineIssues, orderTotalIssues } from './klarna-market-rules.js';
import { maxIdempotencyKeyLength } from './tokenize.js';

/** A vault reference to a customer token (persistence/token-vault.ts): never the token itself. */
export const tokenRef = z.string().regex(/^ctok_[0-9a-f]{32}$/, 'must be a token_ref (ctok_ and 32 hex characters)');

/** Body of `POST /v1/charges`: charge a vaulted customer token. */
export const startChargeRequest = z
  .object({
    token_ref: tokenRef,
    purchase_currency: currencyCode,
    order_amount: minorUnits.min(1),
    /** Defaults to the sum of `order_lines[].total_tax_amount` (0 when none is given). */
    order_tax_amount: minorUnits.min(0).optional(),
    order_lines: z.array(orderLine).min(1).max(1000),
    merchant_reference: nonBlankText(255),
    merchant_reference2: nonBlankText(255).optional(),
    /** The shopper is in the session: Klarna may offer step-up recovery on a rejection (seed 000). */
    customer_present: z.boolean(),
    auto_capture: z.boolean().optional(),
    locale: localeCode.optional(),
    /** How long Klarna may stay unavailable (5xx, 429, timeouts) before the charge fails (default 10m). */
    retry_deadline: durationMs.refine((ms) => ms >= 1_000 && ms <= 24 * 3_600_000, 'must be between 1s and 24h').optional(),
  })
  .superRefine(
    (body, ctx) => {
      // Klarna's line arithmetic and totals (contracts/klarna-market-rules.ts): a 400 before any
      // flow starts, rather than a FAILED charge after a Klarna round trip.
      for (const issue of [...orderLineIssues(body.order_lines), ...orderTotalIssues(body)]) {
        ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
      }
    },
    // Also when other fields failed (one 400 names every problem); the rules take any shape.
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) },
  );
export type StartChargeRequest = z.infer<typeof startChargeRequest>;

export const chargeState = z.enum(chargeStates);
export type ChargeState = z.infer<typeof chargeState>;
export { isTerminalChargeState } from './flow-states.js';

export const placedOrder = z.object({
  order_id: z.string(),
  /** ACCEPTED, or PENDING: Klarna decides later and notifies the merchant (not a failure). */
  fraud_status: z.enum(['ACCEPTED', 'PENDING', 'REJECTED']),
  authorized_payment_method: z.object({ type: z.string() }).passthrough().optional(),
  klarna_correlation_id: z.string().optional(),
});
export type PlacedOrder = z.infer<typeof placedOrder>;

export const chargeStatus = z.object({
  flow_id: z.string(),
  flow_type: z.literal('charge'),
  state: chargeState,
  merchant_reference: z.string(),
  token_ref: z.string(),
  order_amount: z.number().int(),
  purchase_currency: z.string(),
  customer_present: z.boolean(),
  /** Set once Klarna placed the order (stored before it is shown). */
  order: placedOrder.optional(),
  /** Why the charge failed: a Klarna error kind (klarna/errors.ts), `token_ref_unknown` or `deadline_exceeded`; `step_up_id` when the shopper can recover. */
  failure: flowFailure.optional(),
  started_at: z.string(),
  updated_at: z.string(),
});
export type ChargeStatus = z.infer<typeof chargeStatus>;

/** Workflow input: the token order to place and the flow's settings (the token only by reference). */
export interface ChargeInput {
  flow_id: string;
  merchant_reference: string;
  token_ref: string;
  customer_present: boolean;
  order: {
    purchase_currency: string;
    order_amount: number;
    order_tax_amount: number;
    order_lines: StartChargeRequest['order_lines'];
    merchant_reference1: string;
    merchant_reference2?: string;
    auto_capture?: boolean;
    locale?: string;
  };
  retry_deadline_ms: number;
  request_fingerprint?: string;
  start_request_id?: string;
}

export const DEFAULT_CHARGE_RETRY_DEADLINE_MS = 10 * 60_000;

export function chargeInputFromRequest(flowId: string, body: StartChargeRequest, start?: { fingerprint: string; requestId: string }): ChargeInput {
  const taxSum = body.order_lines.reduce((total, line) => total + (line.total_tax_amount ?? 0), 0);
  return {
    flow_id: flowId,
    merchant_reference: body.merchant_reference,
    token_ref: body.token_ref,
    customer_present: body.customer_present,
    order: {
      purchase_currency: body.purchase_currency,
      order_amount: body.order_amount,
      order_tax_amount: body.order_tax_amount ?? taxSum,
      order_lines: body.order_lines,
      merchant_reference1: body.merchant_reference,
      ...(body.merchant_reference2 ? { merchant_reference2: body.merchant_reference2 } : {}),
      ...(body.auto_capture !== undefined ? { auto_capture: body.auto_capture } : {}),
      ...(body.locale ? { locale: body.locale } : {}),
    },
    retry_deadline_ms: body.retry_deadline ?? DEFAULT_CHARGE_RETRY_DEADLINE_MS,
    ...(start ? { request_fingerprint: start.fingerprint, start_request_id: start.requestId } : {}),
  };
}

export { chargeFlowIdPrefix };
export const chargeFlowId = (key: string) => `${chargeFlowIdPrefix}${key}`;
export const chargeFlowIdSchema = z
  .string()
  .regex(new RegExp(`^${chargeFlowIdPrefix}[A-Za-z0-9._:-]{1,${maxIdempotencyKeyLength}}$`), 'must be a charge id');

/** `?wait=` on POST /v1/charges: how long the call may wait for the outcome (default 5s, 1ms to 30s). */
export const chargeWait = durationMs.refine((ms) => ms <= 30_000, 'must be at most 30s');
export const DEFAULT_CHARGE_WAIT_MS = 5_000;
