import { z } from 'zod';
import { chargeState } from './charge.js';

/** What we know of a vaulted customer token (never the token: its reference and last 4). */
export const tokenStatusView = z.object({
  token_ref: z.string(),
  masked: z.string(),
  status: z.enum(['ACTIVE', 'SUSPENDED', 'CANCELLED', 'NOT_FOUND', 'FORBIDDEN']),
  /** Why the status last changed: a Klarna error kind, `refreshed`, or `cancelled_by_merchant`. */
  status_reason: z.string().optional(),
  payment_method_reference: z.string().optional(),
  payment_method_type: z.string().optional(),
  purchase_country: z.string(),
  purchase_currency: z.string(),
  merchant_reference: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type TokenStatusView = z.infer<typeof tokenStatusView>;

export const tokenWithCharges = tokenStatusView.extend({
  /** The newest charges on this token (at most 50), from the stored charge documents. */
  charges: z.array(
    z.object({
      charge_id: z.string(),
      state: chargeState,
      order_amount: z.number().int(),
      purchase_currency: z.string(),
      order_id: z.string().optional(),
      failure_kind: z.string().optional(),
      started_at: z.string(),
    }),
  ),
});
export type TokenWithCharges = z.infer<typeof tokenWithCharges>;

export { tokenMaintenanceIdPrefix } from './flow-states.js';
