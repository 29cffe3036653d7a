import { z } from 'zod';
import { durationMs } from '../config/duration.js';
import {
  address,
  countryCode,
  currencyCode,
  customer,
  localeCode,
  minorUnits,
  orderLine,
  type CreateSessionRequest,
} from '../klarna/payments-schemas.js';

/** Caller-chosen key that makes a start idempotent (also the flow id's suffix). */
export const idempotencyKey = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1-128 characters of letters, digits, . _ : -');

/** Body of `POST /v1/tokenizations`. */
export const startTokenizationRequest = z
  .object({
    merchant_reference: z.string().trim().min(1).max(255),
    purchase_country: countryCode,
    purchase_currency: currencyCode,
    locale: localeCode,
    /** Shown to the shopper at Klarna for the token, e.g. "Monthly coffee subscription". */
    description: z.string().trim().min(1).max(255),
    order_lines: z.array(orderLine).min(1).max(1000),
    /** Defaults to the sum of `order_lines[].total_amount`; if given, must equal it (Klarna checks too). */
    order_amount: minorUnits.min(0).optional(),
    order_tax_amount: minorUnits.min(0).optional(),
    billing_address: address.optional(),
    customer: customer.omit({ customer_token: true }).optional(),
    /** How long to wait for the shopper before the flow ends as ABANDONED (e.g. `30m`). */
    abandonment_timeout: durationMs
      .refine((ms) => ms >= 1_000 && ms <= 7 * 86_400_000, 'must be between 1s and 7d')
      .optional(),
  })
  .superRefine((body, ctx) => {
    const sum = body.order_lines.reduce((total, line) => total + line.total_amount, 0);
    if (sum < 0) {
      ctx.addIssue({ code: 'custom', path: ['order_lines'], message: `total_amount of the lines must not add up to less than 0 (${sum})` });
    }
    if (body.order_amount !== undefined && body.order_amount !== sum) {
      ctx.addIssue({
        code: 'custom',
        path: ['order_amount'],
        message: `must equal the sum of order_lines[].total_amount (${sum})`,
      });
    }
  });
export type StartTokenizationRequest = z.infer<typeof startTokenizationRequest>;

/** Body of `POST /v1/tokenizations/{flow_id}/authorization`: what the Klarna widget gave the checkout. */
export const submitAuthorizationRequest = z.object({
  authorization_token: z.string().trim().min(1).max(512),
  session_id: z.string().trim().min(1).max(255).optional(),
});
export type SubmitAuthorizationRequest = z.infer<typeof submitAuthorizationRequest>;

/** Klarna's authorization callback body (klarna-api-facts §1). */
export const authorizationCallbackBody = z.object({
  authorization_token: z.string().trim().min(1).max(512),
  session_id: z.string().trim().min(1).max(255),
});
export type AuthorizationCallbackBody = z.infer<typeof authorizationCallbackBody>;

/** Signal payload: the shopper authorized, as told by the checkout or by Klarna's callback. */
export const shopperAuthorization = z.object({
  authorization_token: z.string().min(1),
  session_id: z.string().optional(),
  source: z.enum(['checkout', 'klarna_callback']),
});
export type ShopperAuthorization = z.infer<typeof shopperAuthorization>;

/** Workflow input: the Klarna session body (minus what the saga decides) and the flow's settings. */
export interface TokenizeInput {
  flow_id: string;
  merchant_reference: string;
  session: Omit<CreateSessionRequest, 'intent' | 'merchant_urls' | 'step_up_id'>;
  token_description: string;
  abandonment_timeout_ms: number;
}

export function tokenizeInputFromRequest(flowId: string, body: StartTokenizationRequest, defaultAbandonmentMs: number): TokenizeInput {
  const orderAmount = body.order_amount ?? body.order_lines.reduce((total, line) => total + line.total_amount, 0);
  return {
    flow_id: flowId,
    merchant_reference: body.merchant_reference,
    session: {
      purchase_country: body.purchase_country,
      purchase_currency: body.purchase_currency,
      locale: body.locale,
      order_amount: orderAmount,
      order_tax_amount: body.order_tax_amount,
      order_lines: body.order_lines,
      merchant_reference1: body.merchant_reference,
      billing_address: body.billing_address,
      customer: body.customer,
    },
    token_description: body.description,
    abandonment_timeout_ms: body.abandonment_timeout ?? defaultAbandonmentMs,
  };
}

export const tokenizeFlowId = (key: string) => `tokenize-${key}`;
