import { z } from 'zod';
import { address, currencyCode, localeCode, minorUnits, orderLine, subscription } from './payments-schemas.js';

// Klarna's Customer Token API v1 bodies this product sends and reads (seed 001; klarna-api-facts §2).

/** POST /customer-token/v1/tokens/{token}/order */
export const createTokenOrderRequest = z.object({
  purchase_currency: currencyCode,
  order_amount: minorUnits.min(1),
  order_tax_amount: minorUnits.min(0),
  order_lines: z.array(orderLine).min(1).max(1000),
  auto_capture: z.boolean().optional(),
  locale: localeCode.optional(),
  merchant_reference1: z.string().max(255).optional(),
  merchant_reference2: z.string().max(255).optional(),
  shipping_address: address.optional(),
  subscription: subscription.optional(),
  /** SUPPORTED when the shopper is present: a rejection then carries a `step_up_id` (seed 000). */
  step_up: z.enum(['SUPPORTED', 'NOT_SUPPORTED']).optional(),
});
export type CreateTokenOrderRequest = z.infer<typeof createTokenOrderRequest>;

export const authorizedPaymentMethod = z.object({
  type: z.string(),
  number_of_days: z.number().optional(),
  number_of_installments: z.number().optional(),
});

export const createTokenOrderResponse = z.object({
  order_id: z.string().min(1),
  fraud_status: z.enum(['ACCEPTED', 'PENDING', 'REJECTED']),
  redirect_url: z.string().optional(),
  authorized_payment_method: authorizedPaymentMethod.optional(),
});
export type CreateTokenOrderResponse = z.infer<typeof createTokenOrderResponse>;
