import type { Db } from 'mongodb';
import { collections } from './mongo.js';
import type { Sealed } from './token-vault.js';

export interface CustomerTokenDocument {
  _id: string; // token_ref
  flow_id: string;
  merchant_reference: string;
  session_id: string;
  token: Sealed;
  token_last4: string;
  status: 'ACTIVE' | 'SUSPENDED' | 'CANCELLED';
  payment_method_reference?: string;
  purchase_country: string;
  purchase_currency: string;
  klarna_correlation_id?: string;
  created_at: Date;
  updated_at: Date;
}

export function customerTokensRepository(db: Db) {
  const tokens = db.collection<CustomerTokenDocument>(collections.customerTokens);
  return {
    /** Insert once per token_ref; a retried activity writing the same token changes nothing. */
    async save(doc: Omit<CustomerTokenDocument, 'updated_at'>): Promise<void> {
      await tokens.updateOne({ _id: doc._id }, { $setOnInsert: { ...doc, updated_at: doc.created_at } }, { upsert: true });
    },
    findByFlowId: (flowId: string) => tokens.findOne({ flow_id: flowId }),
    findByRef: (tokenRef: string) => tokens.findOne({ _id: tokenRef }),
  };
}
export type CustomerTokensRepository = ReturnType<typeof customerTokensRepository>;
