import { z } from 'zod';
import { buyAndTokenizeStates } from './flow-states.js';
import { cancellation, flowFailure, vaultedTokenSummary } from './flow-status.js';
import { maxIdempotencyKeyLength, startTokenizationRequest, tokenizeInputFromRequest, type TokenizeInput } from './tokenize.js';

// Buy and tokenize (`intent: buy_and_tokenize`, seed 001): one shopper authorization gives both
// a customer token and the order that charges the shopper at checkout. What the API takes and
// answers, and what the workflow (workflows/buy-and-tokenize-workflow.ts) is started with.

/** Flow ids are `buy-and-tokenize-<idempotency key>`. */
export const buyAndTokenizeFlowIdPrefix = 'buy-and-tokenize-';
/** Longest buy-and-tokenize flow id: the API's router must take path parameters this long. */
export const maxBuyAndTokenizeFlowIdLength = buyAndTokenizeFlowIdPrefix.length + maxIdempotencyKeyLength;
export const buyAndTokenizeFlowIdSchema = z
  .string()
  .regex(new RegExp(`^${buyAndTokenizeFlowIdPrefix}[A-Za-z0-9._:-]{1,${maxIdempotencyKeyLength}}$`), 'must be a buy-and-tokenize flow id');
export const buyAndTokenizeFlowId = (key: string) => `${buyAndTokenizeFlowIdPrefix}${key}`;

export const buyAndTokenizeState = z.enum(buyAndTokenizeStates);
export type BuyAndTokenizeState = z.infer<typeof buyAndTokenizeState>;
export { isTerminalBuyAndTokenizeState, terminalBuyAndTokenizeStates } from './flow-states.js';

/** The order Klarna placed from the authorization (stored in `orders` before the flow shows it). */
export const authorizationOrder = z.object({
  order_id: z.string(),
  /** ACCEPTED; PENDING: Klarna decides later, deliver only once it accepts. */
  fraud_status: z.enum(['ACCEPTED', 'PENDING', 'REJECTED']),
  authorized_payment_method: z.object({ type: z.string() }).optional(),
  klarna_correlation_id: z.string().optional(),
});
export type AuthorizationOrder = z.infer<typeof authorizationOrder>;

/** What the saga undid after the order failed. */
export const compensation = z.object({
  /**
   * The customer token made from this authorization: it must not outlive the purchase it was made
   * for. `cancelled`: Klarna cancelled it (and the vault copy is CANCELLED); false with `failure`:
   * Klarna never confirmed the cancel, so the token is still ACTIVE and needs an operator.
   */
  token: vaultedTokenSummary.pick({ token_ref: true, masked: true }).extend({ cancelled: z.boolean(), failure: flowFailure.optional() }).optional(),
  /** The unused authorization was released at Klarna (false: Klarna did not confirm; it lapses after 60 minutes). */
  authorization_released: z.boolean().optional(),
});
export type Compensation = z.infer<typeof compensation>;

export const buyAndTokenizeStatus = z.object({
  flow_id: z.string(),
  flow_type: z.literal('buy_and_tokenize'),
  state: buyAndTokenizeState,
  merchant_reference: z.string(),
  /** false: a refused token does not stop the order (the flow may end COMPLETED_WITHOUT_TOKEN). */
  require_token: z.boolean(),
  session_id: z.string().optional(),
  /** For the Klarna JS SDK on the checkout page; not a credential. */
  client_token: z.string().optional(),
  authorization: z
    .object({ source: z.enum(['checkout', 'klarna_callback']), received_at: z.string(), expires_at: z.string() })
    .optional(),
  /** Set when COMPLETED: the token to charge later. */
  customer_token: vaultedTokenSummary.optional(),
  /** Set once Klarna placed the order (COMPLETED, COMPLETED_WITHOUT_TOKEN). */
  order: authorizationOrder.optional(),
  /** Why there is no token (COMPLETED_WITHOUT_TOKEN). */
  token_failure: flowFailure.optional(),
  /** Why the flow failed (FAILED, EXPIRED): the token's or the order's refusal. */
  failure: flowFailure.optional(),
  compensation: compensation.optional(),
  cancellation: cancellation.optional(),
  /** Authorizations that arrived twice, for another session, or after the outcome. */
  ignored_authorizations: z.number().int(),
  /** Checkout-submitted authorizations Klarna did not know (the flow waited on for a valid one). */
  rejected_authorizations: z.number().int().optional(),
  started_at: z.string(),
  updated_at: z.string(),
});
export type BuyAndTokenizeStatus = z.infer<typeof buyAndTokenizeStatus>;

/**
 * Body of `POST /v1/buy-and-tokenize`: a tokenization's body (the same fields and the same Klarna
 * market rules, checked by the same refinement) plus what the order needs.
 */
export const startBuyAndTokenizeRequest = startTokenizationRequest.safeExtend({
  /**
   * Default true: no order without a token (a subscription that cannot renew is not sold; the
   * authorization is released). false: the purchase counts on its own; a refused token still
   * places the order and the flow ends COMPLETED_WITHOUT_TOKEN.
   */
  require_token: z.boolean().optional(),
  /** Capture the order at once (Klarna's `auto_capture`). */
  auto_capture: z.boolean().optional(),
});
export type StartBuyAndTokenizeRequest = z.infer<typeof startBuyAndTokenizeRequest>;

/** Workflow input: a tokenization's input (session body, token description, timers) and the order's settings. */
export interface BuyAndTokenizeInput extends TokenizeInput {
  require_token: boolean;
  auto_capture?: boolean;
}

export function buyAndTokenizeInputFromRequest(
  flowId: string,
  body: StartBuyAndTokenizeRequest,
  defaultAbandonmentMs: number,
  start?: { fingerprint: string; requestId: string },
): BuyAndTokenizeInput {
  return {
    ...tokenizeInputFromRequest(flowId, body, defaultAbandonmentMs, start),
    require_token: body.require_token ?? true,
    ...(body.auto_capture !== undefined ? { auto_capture: body.auto_capture } : {}),
  };
}
