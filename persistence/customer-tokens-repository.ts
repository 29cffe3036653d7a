import type { Db } from 'mongodb';
import { updateOneGuarded, type ServerKind } from './guarded-update.js';
import { collections } from './mongo.js';
import type { TokenStatusView } from '../contracts/token.js';
import type { Sealed } from './token-vault.js';

export const customerTokenStates = ['ACTIVE', 'SUSPENDED', 'CANCELLED', 'NOT_FOUND', 'FORBIDDEN'] as const;
export type CustomerTokenState = (typeof customerTokenStates)[number];

export interface CustomerTokenDocument {
  _id: string; // token_ref
  flow_id: string;
  merchant_reference: string;
  session_id: string;
  token: Sealed;
  token_last4: string;
  /**
   * What we last learned of the token at Klarna. ACTIVE is chargeable; the others come from Klarna's
   * answers (a token order refused with TOKEN_*, a status read, our own cancel) and make later
   * charges fail fast without a Klarna call. NOT_FOUND and FORBIDDEN: Klarna no longer knows it
   * as ours.
   */
  status: CustomerTokenState;
  /** Why the status changed last (a Klarna error kind, `cancelled_by_merchant`, `refreshed`). */
  status_reason?: string;
  /** The payment method changed through step-up recovery (seed 000); set by that flow. */
  payment_method_changed_at?: Date;
  payment_method_reference?: string;
  purchase_country: string;
  purchase_currency: string;
  klarna_correlation_id?: string;
  created_at: Date;
  updated_at: Date;
}

/** `options.kind`: force how guarded writes are made (tests run both ways); by default the server's. */
export function customerTokensRepository(db: Db, options: { kind?: ServerKind } = {}) {
  const tokens = db.collection<CustomerTokenDocument>(collections.customerTokens);
  return {
    /** Insert once per token_ref; a retried activity writing the same token changes nothing. */
    async save(doc: Omit<CustomerTokenDocument, 'updated_at'>): Promise<void> {
      await tokens.updateOne({ _id: doc._id }, { $setOnInsert: { ...doc, updated_at: doc.created_at } }, { upsert: true });
    },
    /** Records what Klarna said of the token (idempotent: the same status again changes nothing). */
    async markStatus(tokenRef: string, status: CustomerTokenState, reason: string, at: Date): Promise<void> {
      await updateOneGuarded(
        tokens,
        tokenRef,
        { filter: { status: { $ne: status } }, holds: (doc) => doc.status !== status },
        { $set: { status, status_reason: reason, updated_at: at } },
        { kind: options.kind },
      );
    },
    /** Step-up recovery changed the token's payment method at Klarna: ACTIVE again, with when (idempotent). */
    async markPaymentMethodChanged(tokenRef: string, at: Date): Promise<void> {
      await tokens.updateOne({ _id: tokenRef }, { $set: { status: 'ACTIVE', status_reason: 'payment_method_changed', payment_method_changed_at: at, updated_at: at } });
    },
    findByFlowId: (flowId: string) => tokens.findOne({ flow_id: flowId }),
    findByRef: (tokenRef: string) => tokens.findOne({ _id: tokenRef }),
  };
}
export type CustomerTokensRepository = ReturnType<typeof customerTokensRepository>;

/** The stored token as the API shows it. */
export function tokenView(doc: CustomerTokenDocument, paymentMethodType?: string): TokenStatusView {
  return {
    token_ref: doc._id,
    masked: `…${doc.token_last4}`,
    status: doc.status,
    ...(doc.status_reason ? { status_reason: doc.status_reason } : {}),
    ...(doc.payment_method_reference ? { payment_method_reference: doc.payment_method_reference } : {}),
    ...(paymentMethodType ? { payment_method_type: paymentMethodType } : {}),
    purchase_country: doc.purchase_country,
    purchase_currency: doc.purchase_currency,
    merchant_reference: doc.merchant_reference,
    created_at: doc.created_at.toISOString(),
    updated_at: doc.updated_at.toISOString(),
  };
}
