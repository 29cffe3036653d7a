import { z } from 'zod';

// Klarna Payments v1 and Customer Token v1 bodies, as this product sends and reads them
// (klarna-api-facts §1–2, seeds 000/001). Response schemas only require what we use, so
// Klarna adding fields never breaks us; anything we rely on missing is an unexpected response.

export const countryCode = z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 country code, e.g. SE');
export const currencyCode = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code, e.g. SEK');
export const localeCode = z.string().regex(/^[a-z]{2}-[A-Z]{2}$/, 'must be a locale such as en-US');
/** Amounts are integers in minor units (cents), as Klarna takes them. */
export const minorUnits = z.number().int('must be an integer amount in minor units');

export const address = z.object({
  given_name: z.string().max(100).optional(),
  family_name: z.string().max(100).optional(),
  email: z.email().optional(),
  phone: z.string().max(40).optional(),
  street_address: z.string().max(255).optional(),
  street_address2: z.string().max(255).optional(),
  postal_code: z.string().max(20).optional(),
  city: z.string().max(100).optional(),
  region: z.string().max(100).optional(),
  country: countryCode.optional(),
});
export type Address = z.infer<typeof address>;

export const customer = z.object({
  date_of_birth: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD').optional(),
  type: z.enum(['person', 'organization']).optional(),
  customer_token: z.string().optional(),
});
export type Customer = z.infer<typeof customer>;

export const subscription = z.object({
  name: z.string().min(1).max(255),
  interval: z.enum(['DAY', 'WEEK', 'MONTH', 'YEAR']),
  interval_count: z.number().int().min(1),
});

export const orderLine = z.object({
  type: z
    .enum(['physical', 'discount', 'shipping_fee', 'sales_tax', 'digital', 'gift_card', 'store_credit', 'surcharge'])
    .optional(),
  reference: z.string().max(255).optional(),
  name: z.string().min(1).max(255),
  quantity: z.number().int().min(0),
  quantity_unit: z.string().max(10).optional(),
  unit_price: minorUnits,
  tax_rate: z.number().int().min(0).max(10000).optional(),
  total_amount: minorUnits,
  total_discount_amount: minorUnits.min(0).optional(),
  total_tax_amount: minorUnits.optional(),
  subscription: subscription.optional(),
});
export type OrderLine = z.infer<typeof orderLine>;

export const intent = z.enum(['buy', 'tokenize', 'buy_and_tokenize']);
export type Intent = z.infer<typeof intent>;

export const createSessionRequest = z.object({
  intent,
  purchase_country: countryCode,
  purchase_currency: currencyCode,
  locale: localeCode,
  order_amount: minorUnits.min(0),
  order_tax_amount: minorUnits.min(0).optional(),
  order_lines: z.array(orderLine).min(1).max(1000),
  merchant_reference1: z.string().max(255).optional(),
  merchant_reference2: z.string().max(255).optional(),
  merchant_urls: z.object({ authorization: z.url().optional() }).optional(),
  billing_address: address.optional(),
  customer: customer.optional(),
  step_up_id: z.string().optional(),
});
export type CreateSessionRequest = z.infer<typeof createSessionRequest>;

export const createSessionResponse = z.object({
  session_id: z.string().min(1),
  client_token: z.string().min(1),
  payment_method_categories: z
    .array(z.object({ identifier: z.string(), name: z.string().optional() }))
    .optional()
    .default([]),
});
export type CreateSessionResponse = z.infer<typeof createSessionResponse>;

export const sessionDetails = z.object({
  status: z.string(),
  intent: intent.optional(),
  authorization_token: z.string().optional(),
  expires_at: z.string().optional(),
});
export type SessionDetails = z.infer<typeof sessionDetails>;

export const createCustomerTokenRequest = z.object({
  purchase_country: countryCode,
  purchase_currency: currencyCode,
  locale: localeCode,
  description: z.string().min(1).max(255),
  intended_use: z.literal('SUBSCRIPTION'),
  billing_address: address.optional(),
  customer: customer.optional(),
});
export type CreateCustomerTokenRequest = z.infer<typeof createCustomerTokenRequest>;

export const createCustomerTokenResponse = z.object({
  token_id: z.string().min(1),
  redirect_url: z.string().optional(),
  payment_method_reference: z.string().optional(),
  billing_address: address.partial().optional(),
});
export type CreateCustomerTokenResponse = z.infer<typeof createCustomerTokenResponse>;

/**
 * POST /payments/v1/authorizations/{authorizationToken}/order (klarna-api-facts §1, seed 001): the
 * session's body without intent and callbacks, which must match what the shopper authorized.
 */
export const createOrderRequest = createSessionRequest
  .omit({ intent: true, merchant_urls: true, step_up_id: true })
  .extend({ auto_capture: z.boolean().optional() });
export type CreateOrderRequest = z.infer<typeof createOrderRequest>;

export const createOrderResponse = z.object({
  order_id: z.string().min(1),
  fraud_status: z.enum(['ACCEPTED', 'PENDING', 'REJECTED']),
  redirect_url: z.string().optional(),
  // Klarna's OpenAPI has an object; seed 001's sample shows a bare string ("invoice"): both are read.
  authorized_payment_method: z
    .union([z.string().transform((type) => ({ type })), z.looseObject({ type: z.string() })])
    .optional(),
});
export type CreateOrderResponse = z.infer<typeof createOrderResponse>;

export const customerTokenStatus = z.enum(['ACTIVE', 'SUSPENDED', 'CANCELLED']);
export const customerTokenDetails = z.object({
  status: customerTokenStatus,
  payment_method_type: z.string().optional(),
  card: z.object({ brand: z.string().optional(), expiry_date: z.string().optional(), masked_number: z.string().optional() }).optional(),
  direct_debit: z.object({ masked_number: z.string().optional() }).optional(),
});
export type CustomerTokenDetails = z.infer<typeof customerTokenDetails>;

/** Klarna v1 error body (`{error_code, error_messages[], correlation_id}`), plus step-up fields (seed 000). */
export const klarnaErrorBody = z.object({
  error_code: z.string(),
  error_messages: z.array(z.string()).optional().default([]),
  correlation_id: z.string().optional(),
  reason: z.string().optional(),
  step_up_id: z.string().optional(),
  fraud_status: z.string().optional(),
});
export type KlarnaErrorBody = z.infer<typeof klarnaErrorBody>;

/** `POST /hpp/v1/sessions` → 201 (klarna-api-facts §3); only what the step-up recovery uses. */
export const createHppSessionResponse = z.object({
  session_id: z.string().min(1),
  redirect_url: z.string().min(1),
  expires_at: z.string().optional(),
});

/** `GET /hpp/v1/sessions/{id}` (also the `session` of a status_update). */
export const hppSessionDetails = z.object({
  session_id: z.string().min(1),
  status: z.enum(['WAITING', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED', 'BACK', 'ERROR', 'DISABLED']),
  updated_at: z.string().optional(),
  expires_at: z.string().optional(),
  authorization_token: z.string().optional(),
  order_id: z.string().optional(),
  klarna_reference: z.string().optional(),
});
