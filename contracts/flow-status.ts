import { z } from 'zod';
import { tokenizeStates } from './flow-states.js';

// What every flow reports about itself (query result, workflow result, API answer). It never
// holds a customer token or an authorization token: tokens are named by their vault reference.

export const flowType = z.enum(['tokenize', 'charge', 'buy_and_tokenize', 'subscription', 'step_up', 'v2_authorize', 'v2_charge', 'v2_payment_request']);
export type FlowType = z.infer<typeof flowType>;

export const tokenizeState = z.enum(tokenizeStates);
export type TokenizeState = z.infer<typeof tokenizeState>;
export { isTerminalTokenizeState, terminalTokenizeStates } from './flow-states.js';

export const flowFailure = z.object({
  /** A Klarna error kind (klarna/errors.ts) or `internal`. */
  kind: z.string(),
  message: z.string(),
  klarna_error_code: z.string().optional(),
  klarna_correlation_id: z.string().optional(),
  /** Klarna's step-up id on a refused token charge (seed 000): what a recovery starts from. */
  step_up_id: z.string().optional(),
});
export type FlowFailure = z.infer<typeof flowFailure>;

/** Why a flow was cancelled before its outcome (POST …/cancel). */
export const cancellationReason = z.enum(['shopper_declined', 'shopper_cancelled', 'merchant_cancelled']);
export type CancellationReason = z.infer<typeof cancellationReason>;
export const cancellation = z.object({ reason: cancellationReason, cancelled_at: z.string() });

export const vaultedTokenSummary = z.object({
  token_ref: z.string(),
  /** Last four characters, e.g. `…9e00`, for people to recognise it. */
  masked: z.string(),
  payment_method_reference: z.string().optional(),
});
export type VaultedTokenSummary = z.infer<typeof vaultedTokenSummary>;

/** What the shared flow machinery (status tracker, flow documents, listing) needs of any flow. */
export interface FlowStatusBase {
  flow_id: string;
  flow_type: FlowType;
  state: string;
  merchant_reference: string;
  failure?: FlowFailure;
  started_at: string;
  updated_at: string;
}

export const tokenizeStatus = z.object({
  flow_id: z.string(),
  flow_type: z.literal('tokenize'),
  state: tokenizeState,
  merchant_reference: z.string(),
  session_id: z.string().optional(),
  /** For the Klarna JS SDK on the checkout page; not a credential. */
  client_token: z.string().optional(),
  authorization: z
    .object({ source: z.enum(['checkout', 'klarna_callback']), received_at: z.string(), expires_at: z.string() })
    .optional(),
  customer_token: vaultedTokenSummary.optional(),
  failure: flowFailure.optional(),
  /** Set when the flow ended CANCELLED. */
  cancellation: cancellation.optional(),
  /** Authorizations that arrived twice, for another session, or after the outcome. */
  ignored_authorizations: z.number().int(),
  /** Checkout-submitted authorizations Klarna did not know (the flow waited on for a valid one). */
  rejected_authorizations: z.number().int().optional(),
  started_at: z.string(),
  updated_at: z.string(),
});
export type TokenizeStatus = z.infer<typeof tokenizeStatus>;
