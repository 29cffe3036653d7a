import { z } from 'zod';
import { durationMs } from '../config/duration.js';
import { v2AuthorizeStates, v2PaymentRequestStates } from './flow-states.js';
import { tokenScope, type TokenScope } from '../klarna/v2-schemas.js';
import { currencyCode } from '../klarna/payments-schemas.js';
import { tokenRef } from './charge.js';
import { flowFailure } from './flow-status.js';
import { nonBlankText } from './text.js';
import { maxIdempotencyKeyLength } from './tokenize.js';

// Klarna v2 (seeds 002, 003): tokens with and without a purchase through the Payment Authorize API
// (acquiring-partner path) and the Payment Request API (Web SDK partner path), the v2 token charge,
// and what flows on them report. Field names follow Klarna's where we forward them.

// ---- Shared pieces of the requests ----

/**
 * Seed 002/003: `payment:customer_present` for on-demand charges (the shopper is there and may
 * step up), `payment:customer_not_present` for subscriptions (charged without the shopper, no
 * step-up). Mixed use gets both.
 */
export const tokenUseCase = z.enum(['on_demand', 'subscription', 'subscription_and_on_demand']);
export type TokenUseCase = z.infer<typeof tokenUseCase>;
export const scopesForUseCase: Record<TokenUseCase, TokenScope[]> = {
  on_demand: ['payment:customer_present'],
  subscription: ['payment:customer_not_present'],
  subscription_and_on_demand: ['payment:customer_present', 'payment:customer_not_present'],
};

/** `request_customer_token`: scopes given directly, or chosen by `use_case`. */
export const v2TokenRequest = z
  .object({
    use_case: tokenUseCase.optional(),
    scopes: z.array(tokenScope).min(1).max(2).optional(),
    customer_token_reference: nonBlankText(255).optional(),
  })
  .refine((t) => t.use_case !== undefined || t.scopes !== undefined, { path: ['use_case'], message: 'give use_case or scopes' });
export type V2TokenRequest = z.infer<typeof v2TokenRequest>;
export const scopesOf = (t: V2TokenRequest): TokenScope[] => [...new Set(t.scopes ?? scopesForUseCase[t.use_case!])];

/**
 * Where Klarna sends the shopper back (seed 003): forwarded unmodified, and checked no more
 * strictly than Klarna does (return_url an http(s) URL, which may carry Klarna's
 * `{klarna.payment_request.*}` placeholders; app_return_url any non-empty string: an app scheme
 * or a universal link).
 */
export const customerInteraction = z.object({
  return_url: z.url({ protocol: /^https?$/ }).optional(),
  app_return_url: z.string().min(1).optional(),
  /** Klarna's custom expiry of the payment request ({duration: "PT30M"} or {timestamp}); Klarna judges it (15 min to 48 h). */
  interaction_expiry: z.object({ duration: z.string().min(1).max(50).optional(), timestamp: z.string().min(1).max(50).optional() }).optional(),
});
export type CustomerInteraction = z.infer<typeof customerInteraction>;

/** Subscriptions, on-demand service, line items: forwarded to Klarna exactly as received. */
export const supplementaryPurchaseData = z.record(z.string(), z.unknown());

/** Sent as an HTTP header value: printable ASCII (what any header can carry), no surrounding spaces. */
const interoperabilityToken = z
  .string()
  .max(8192)
  .regex(/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/, 'must be printable ASCII (it is sent as the Klarna-Interoperability-Token header)');

const positiveMinorUnits = z.number().int('must be an integer amount in minor units').min(1);

// ---- Requests ----

/** Body of `POST /v2/authorizations` (header Idempotency-Key): the Payment Authorize API, acquiring-partner path. */
export const startV2AuthorizationRequest = z
  .object({
    merchant_reference: nonBlankText(255),
    currency: currencyCode,
    /** A purchase now (token creation with purchase); absent: token only. */
    request_payment_transaction: z
      .object({ amount: positiveMinorUnits, payment_transaction_reference: nonBlankText(255).optional(), payment_option_id: z.string().min(1).max(255).optional() })
      .optional(),
    request_customer_token: v2TokenRequest.optional(),
    supplementary_purchase_data: supplementaryPurchaseData.optional(),
    /** The merchant's Klarna-Interoperability-Token, forwarded unmodified as that header. */
    interoperability_token: interoperabilityToken.optional(),
    /** Where the shopper comes back after a step-up (Klarna's step_up_config.customer_interaction_config). */
    step_up: customerInteraction.optional(),
  })
  .refine((b) => b.request_payment_transaction !== undefined || b.request_customer_token !== undefined, {
    path: ['request_customer_token'],
    message: 'request_customer_token or request_payment_transaction is required',
  });
export type StartV2AuthorizationRequest = z.infer<typeof startV2AuthorizationRequest>;

/** Body of `POST /v2/charges` (header Idempotency-Key): a v2 token charge (the authorize call with Klarna-Customer-Token). */
export const startV2ChargeRequest = z
  .object({
    merchant_reference: nonBlankText(255),
    token_ref: tokenRef,
    currency: currencyCode,
    amount: positiveMinorUnits,
    payment_transaction_reference: nonBlankText(255).optional(),
    /**
     * The shopper is in the session. Needs a `payment:customer_present` token, or a
     * `customer_not_present` one (seed 002: it works, with fewer options); Klarna may then ask for a
     * step-up. Without the shopper (subscriptions) the token needs `payment:customer_not_present`.
     */
    customer_present: z.boolean(),
    supplementary_purchase_data: supplementaryPurchaseData.optional(),
    interoperability_token: interoperabilityToken.optional(),
    /** Only with customer_present: where the shopper comes back after a step-up. */
    step_up: customerInteraction.optional(),
    /** How long Klarna may stay unavailable (5xx, 429, timeouts) before the charge fails (default 10m, 1s to 24h). */
    retry_deadline: durationMs.refine((ms) => ms >= 1_000 && ms <= 24 * 3_600_000, 'must be between 1s and 24h').optional(),
  })
  .refine((b) => b.customer_present || b.step_up === undefined, { path: ['step_up'], message: 'only with customer_present: true' });
export type StartV2ChargeRequest = z.infer<typeof startV2ChargeRequest>;

/** Body of `POST /v2/payment-requests` and of the Web SDK initiate endpoint: a payment request with tokenization (seed 003). */
export const startV2PaymentRequestRequest = z.object({
  merchant_reference: nonBlankText(255),
  currency: currencyCode,
  /** Absent: token creation only; present: token creation with a purchase. */
  amount: positiveMinorUnits.optional(),
  request_customer_token: v2TokenRequest,
  /** From the Web SDK's payment presentation (`paymentOptionId`). */
  payment_option_id: z.string().min(1).max(255).optional(),
  supplementary_purchase_data: supplementaryPurchaseData.optional(),
  customer_interaction: customerInteraction.optional(),
});
export type StartV2PaymentRequestRequest = z.infer<typeof startV2PaymentRequestRequest>;

// ---- Status ----

/** What became of one part (the purchase, or the token) of an authorization. */
/** PENDING: not answered yet; STEP_UP_REQUIRED: the shopper is in the payment request; the rest are final. */
export const v2PartResult = z.enum(['PENDING', 'APPROVED', 'STEP_UP_REQUIRED', 'DECLINED', 'EXPIRED', 'CANCELLED', 'FAILED']);
export type V2PartResult = z.infer<typeof v2PartResult>;

export const v2PaymentPart = z.object({
  result: v2PartResult,
  amount: z.number().int(),
  /** Klarna's transaction, kept for capture and refund (seed 002). */
  payment_transaction_id: z.string().optional(),
  payment_transaction_reference: z.string().optional(),
  /** Why it is not APPROVED: Klarna's result_reason, or ours (payment_request_expired, network_session_token_expired, …). */
  reason: z.string().optional(),
});
export type V2PaymentPart = z.infer<typeof v2PaymentPart>;

export const v2TokenPart = z.object({
  result: v2PartResult,
  scopes: z.array(tokenScope),
  /** The vaulted token (the token itself never leaves the vault). */
  token_ref: z.string().optional(),
  masked: z.string().optional(),
  reason: z.string().optional(),
});
export type V2TokenPart = z.infer<typeof v2TokenPart>;

export const v2PaymentRequestView = z.object({
  payment_request_id: z.string(),
  /** Where the shopper goes (the Web SDK takes the id; a redirect takes the URL). */
  payment_request_url: z.string().optional(),
  /** Klarna's state: SUBMITTED, IN_PROGRESS, COMPLETED, EXPIRED, CANCELED, DECLINED. */
  state: z.string(),
  expires_at: z.string().optional(),
  /** How the flow learned the final state: Klarna's webhook, or reading the payment request. */
  completed_by: z.enum(['webhook', 'read']).optional(),
});
export type V2PaymentRequestView = z.infer<typeof v2PaymentRequestView>;

export const v2NextAction = z.enum(['wait', 'redirect_to_payment_request', 'none']);

export const v2AuthorizeState = z.enum(v2AuthorizeStates);
export type V2AuthorizeState = z.infer<typeof v2AuthorizeState>;
export { isTerminalV2AuthorizeState, terminalV2AuthorizeStates } from './flow-states.js';

export const v2AuthorizeStatus = z.object({
  flow_id: z.string(),
  /** v2_authorize: token (and purchase) creation; v2_charge: a charge of a vaulted v2 token. */
  flow_type: z.enum(['v2_authorize', 'v2_charge']),
  state: v2AuthorizeState,
  merchant_reference: z.string(),
  currency: z.string(),
  next_action: v2NextAction,
  /** Present when a purchase was asked for. */
  payment: v2PaymentPart.optional(),
  /** Present when a token was asked for (v2_authorize). */
  customer_token: v2TokenPart.optional(),
  /** v2_charge: the token charged. */
  token_ref: z.string().optional(),
  customer_present: z.boolean().optional(),
  /** The step-up's payment request, while and after the shopper deals with it. */
  payment_request: v2PaymentRequestView.optional(),
  step_ups: z.number().int(),
  /** Webhook events that came twice, out of order (older than what the flow knew), or for another payment request. */
  ignored_events: z.number().int(),
  /** A hash of what Klarna decided on (not the merchant reference): a DECLINED flow is not replayed with the same one. */
  decline_context: z.string().optional(),
  failure: flowFailure.optional(),
  started_at: z.string(),
  updated_at: z.string(),
});
export type V2AuthorizeStatus = z.infer<typeof v2AuthorizeStatus>;

export const v2PaymentRequestState = z.enum(v2PaymentRequestStates);
export type V2PaymentRequestState = z.infer<typeof v2PaymentRequestState>;
export { isTerminalV2PaymentRequestState, terminalV2PaymentRequestStates } from './flow-states.js';

export const v2PaymentRequestStatus = z.object({
  flow_id: z.string(),
  flow_type: z.literal('v2_payment_request'),
  state: v2PaymentRequestState,
  merchant_reference: z.string(),
  currency: z.string(),
  /** Absent: token only. */
  amount: z.number().int().optional(),
  next_action: v2NextAction,
  payment_request: v2PaymentRequestView.optional(),
  customer_token: v2TokenPart.optional(),
  /** The klarna_network_session_token is stored (sealed) for the hand-off until this time (1 hour). */
  network_session: z.object({ expires_at: z.string() }).optional(),
  ignored_events: z.number().int(),
  failure: flowFailure.optional(),
  started_at: z.string(),
  updated_at: z.string(),
});
export type V2PaymentRequestStatus = z.infer<typeof v2PaymentRequestStatus>;

/** `GET /v2/payment-requests/{id}/hand-off`: what the acquiring partner needs to authorize the purchase (seed 003). */
export const v2HandOff = z.object({
  flow_id: z.string(),
  payment_request_id: z.string(),
  /** Valid 1 hour from completion; a credential: pass it on, never log it. */
  klarna_network_session_token: z.string(),
  expires_at: z.string(),
  customer_token: v2TokenPart.optional(),
});

// ---- Workflow inputs and events ----

/** A payment request state change as the API hands it to a flow (no tokens: those stay sealed in the inbox). */
export interface V2PaymentRequestEvent {
  event_id: string;
  payment_request_id: string;
  state: string;
  occurred_at?: string;
}

export interface V2AuthorizeInput {
  flow_id: string;
  flow_type: 'v2_authorize' | 'v2_charge';
  merchant_reference: string;
  currency: string;
  payment?: { amount: number; payment_transaction_reference?: string; payment_option_id?: string };
  token?: { scopes: TokenScope[]; customer_token_reference?: string };
  /** v2_charge: the vaulted token to charge, and whether the shopper is there. */
  charge?: { token_ref: string; customer_present: boolean };
  supplementary_purchase_data?: Record<string, unknown>;
  interoperability_token?: string;
  step_up?: CustomerInteraction;
  /** Whether Klarna may ask for a step-up (sends step_up_config); false for charges without the shopper. */
  step_up_allowed: boolean;
  /** Deadline of the first authorize call while Klarna is unavailable. */
  retry_deadline_ms: number;
  /** When the flow reads the payment request itself if no webhook came (then doubling to 5 minutes). */
  fallback_read_after_ms: number;
  decline_context: string;
  request_fingerprint?: string;
  start_request_id?: string;
}

export interface V2PaymentRequestInput {
  flow_id: string;
  merchant_reference: string;
  currency: string;
  amount?: number;
  token: { scopes: TokenScope[]; customer_token_reference?: string };
  payment_option_id?: string;
  supplementary_purchase_data?: Record<string, unknown>;
  customer_interaction?: CustomerInteraction;
  fallback_read_after_ms: number;
  request_fingerprint?: string;
  start_request_id?: string;
}

export const DEFAULT_V2_RETRY_DEADLINE_MS = 10 * 60_000;
export const DEFAULT_FALLBACK_READ_AFTER_MS = 15_000;

// ---- Flow ids ----

export const v2AuthorizeFlowIdPrefix = 'v2-authorize-';
export const v2ChargeFlowIdPrefix = 'v2-charge-';
export const v2PaymentRequestFlowIdPrefix = 'v2-payreq-';
const flowIdSchema = (prefix: string, what: string) =>
  z.string().regex(new RegExp(`^${prefix}[A-Za-z0-9._:-]{1,${maxIdempotencyKeyLength}}$`), `must be a ${what} id`);
export const v2AuthorizeFlowIdSchema = flowIdSchema(v2AuthorizeFlowIdPrefix, 'v2 authorization');
export const v2ChargeFlowIdSchema = flowIdSchema(v2ChargeFlowIdPrefix, 'v2 charge');
export const v2PaymentRequestFlowIdSchema = flowIdSchema(v2PaymentRequestFlowIdPrefix, 'v2 payment request flow');
/** Any v2 flow that follows a payment request (what a webhook's payment_request_reference names). */
export const isV2FlowId = (id: string) =>
  [v2AuthorizeFlowIdSchema, v2ChargeFlowIdSchema, v2PaymentRequestFlowIdSchema].some((schema) => schema.safeParse(id).success);

