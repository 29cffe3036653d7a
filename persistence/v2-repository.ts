import type { Db } from 'mongodb';
import type { TokenScope } from '../klarna/v2-schemas.js';
import { collections } from './mongo.js';
import type { Sealed } from './token-vault.js';

/**
 * A Klarna v2 customer token (a KRN, `krn:customer-token:…`), sealed like v1 tokens, with the
 * scopes it was issued with (seed 002): what a v2 charge checks before it uses the token.
 */
export interface V2CustomerTokenDocument {
  _id: string; // token_ref
  flow_id: string;
  merchant_reference: string;
  token: Sealed;
  token_last4: string;
  scopes: TokenScope[];
  customer_token_reference?: string;
  /** The payment request it came from (Payment Request flow, or an authorize step-up). */
  payment_request_id?: string;
  created_at: Date;
}

/** The klarna_network_session_token of a completed payment request, for the hand-off (1 hour). */
export interface V2NetworkSessionDocument {
  _id: string; // flow id
  payment_request_id: string;
  token: Sealed;
  expires_at: Date;
  created_at: Date;
}

export function v2Repository(db: Db) {
  const tokens = db.collection<V2CustomerTokenDocument>(collections.v2CustomerTokens);
  const sessions = db.collection<V2NetworkSessionDocument>(collections.v2NetworkSessions);
  return {
    /** Insert once per token_ref: a retried activity, or the same token again after a finalization, changes nothing. */
    async saveToken(doc: V2CustomerTokenDocument): Promise<void> {
      await tokens.updateOne({ _id: doc._id }, { $setOnInsert: doc }, { upsert: true });
    },
    findToken: (tokenRef: string) => tokens.findOne({ _id: tokenRef }),
    async saveNetworkSession(doc: V2NetworkSessionDocument): Promise<void> {
      await sessions.updateOne({ _id: doc._id }, { $setOnInsert: doc }, { upsert: true });
    },
    findNetworkSession: (flowId: string) => sessions.findOne({ _id: flowId }),
  };
}
export type V2Repository = ReturnType<typeof v2Repository>;
