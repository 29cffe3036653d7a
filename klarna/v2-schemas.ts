import { z } from 'zod';

// Klarna v2 bodies for acquiring partners (klarna-api-facts §4, seeds 002 and 003): the Payment
// Authorize API, the Payment Request API and the payment request webhooks. Response schemas only
// require what we use (loose objects), so Klarna adding fields never breaks us.

/** Seed 002: customer-present tokens serve on-demand charges (may step up), customer-not-present ones subscriptions. */
export const tokenScope = z.enum(['payment:customer_present', 'payment:customer_not_present']);
export type TokenScope = z.infer<typeof tokenScope>;

export const v2Result = z.enum(['APPROVED', 'STEP_UP_REQUIRED', 'DECLINED']);
export type V2Result = z.infer<typeof v2Result>;

export const paymentRequestState = z.enum(['SUBMITTED', 'IN_PROGRESS', 'COMPLETED', 'EXPIRED', 'CANCELED', 'DECLINED']);
export type PaymentRequestState = z.infer<typeof paymentRequestState>;
export const finalPaymentRequestStates: readonly PaymentRequestState[] = ['COMPLETED', 'EXPIRED', 'CANCELED', 'DECLINED'];

/** Opaque partner data (subscriptions, ondemand_service, line_items): forwarded to Klarna exactly as received. */
export type SupplementaryPurchaseData = Record<string, unknown>;

export interface CustomerInteractionConfig {
  method: 'HANDOVER';
  return_url?: string;
  app_return_url?: string;
  interaction_expiry?: { duration?: string; timestamp?: string };
}

export interface RequestCustomerToken {
  scopes: TokenScope[];
  customer_token_reference?: string;
}

/** POST /v2/accounts/{partner_account_id}/payment/authorize. */
export interface V2AuthorizeRequest {
  currency: string;
  request_payment_transaction?: { amount: number; payment_transaction_reference?: string; payment_option_id?: string };
  request_customer_token?: RequestCustomerToken;
  step_up_config?: { payment_request_reference?: string; customer_interaction_config?: CustomerInteractionConfig };
  supplementary_purchase_data?: SupplementaryPurchaseData;
}

/** POST /v2/payment/requests. */
export interface V2CreatePaymentRequest {
  currency: string;
  amount?: number;
  payment_request_reference?: string;
  payment_option_id?: string;
  supplementary_purchase_data?: SupplementaryPurchaseData;
  request_customer_token?: RequestCustomerToken;
  customer_interaction_config?: CustomerInteractionConfig;
}

export const v2PaymentRequest = z.looseObject({
  payment_request_id: z.string().min(1),
  state: paymentRequestState,
  previous_state: z.string().optional(),
  state_reason: z.string().optional(),
  payment_request_reference: z.string().optional(),
  expires_at: z.string().optional(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
  state_context: z
    .looseObject({
      customer_interaction: z.looseObject({ payment_request_id: z.string().optional(), payment_request_url: z.string().optional() }).optional(),
      klarna_network_session_token: z.string().optional(),
      klarna_customer: z.looseObject({ customer_token: z.string().optional(), customer_token_reference: z.string().optional() }).optional(),
    })
    .optional(),
});
export type V2PaymentRequest = z.infer<typeof v2PaymentRequest>;

export const v2AuthorizeResponse = z.looseObject({
  payment_transaction_response: z
    .looseObject({
      result: v2Result,
      result_reason: z.string().optional(),
      payment_transaction: z
        .looseObject({
          payment_transaction_id: z.string().min(1),
          payment_transaction_reference: z.string().optional(),
          amount: z.number().optional(),
          currency: z.string().optional(),
        })
        .optional(),
    })
    .optional(),
  customer_token_response: z.looseObject({ result: v2Result, customer_token: z.string().optional() }).optional(),
  payment_request: v2PaymentRequest.optional(),
});
export type V2AuthorizeResponse = z.infer<typeof v2AuthorizeResponse>;

/** v2 error body: `{error_id, error_type, error_code, error_message, errors[]}`. */
export const v2ErrorBody = z.looseObject({
  error_id: z.string().optional(),
  error_type: z.string().optional(),
  error_code: z.string().optional(),
  error_message: z.string().optional(),
  errors: z.array(z.looseObject({ parameter: z.string().optional(), error_message: z.string().optional() })).optional(),
});
export type V2ErrorBody = z.infer<typeof v2ErrorBody>;

/** The webhook envelope (facts §4): `{metadata, payload}`; payment request events carry the request. */
export const v2WebhookEnvelope = z.object({
  metadata: z.looseObject({
    event_type: z.string().min(1).max(200),
    event_id: z.string().min(1).max(200),
    event_version: z.string().max(20).optional(),
    occurred_at: z.string().max(100).optional(),
    correlation_id: z.string().max(200).optional(),
    subject_account_id: z.string().max(500).optional(),
    recipient_account_id: z.string().max(500).optional(),
    product_instance_id: z.string().max(500).optional(),
    webhook_id: z.string().max(500).optional(),
    live: z.boolean().optional(),
  }),
  payload: z.looseObject({
    payment_request_id: z.string().min(1).max(500).optional(),
    state: z.string().max(50).optional(),
    previous_state: z.string().max(50).optional(),
    payment_request_reference: z.string().max(255).optional(),
    state_context: z
      .looseObject({
        klarna_network_session_token: z.string().max(2000).optional(),
        klarna_customer: z.looseObject({ customer_token: z.string().max(2000).optional(), customer_token_reference: z.string().max(255).optional() }).optional(),
      })
      .optional(),
  }),
});
export type V2WebhookEnvelope = z.infer<typeof v2WebhookEnvelope>;
