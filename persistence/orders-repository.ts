import type { Db } from 'mongodb';
import { collections, isDuplicateKeyError } from './mongo.js';

/**
 * An order Klarna placed from a shopper's authorization (buy and tokenize), stored under Klarna's
 * own `order_id` before the flow shows success: what the merchant captures, refunds or reconciles.
 * Unique on `_id` (the order id) and on `flow_id` (one order per flow).
 */
export interface OrderDocument {
  _id: string; // Klarna order_id
  flow_id: string;
  source: 'authorization';
  merchant_reference: string;
  session_id: string;
  /** The customer token made from the same authorization, if any. */
  token_ref?: string;
  order_amount: number;
  purchase_currency: string;
  fraud_status: 'ACCEPTED' | 'PENDING' | 'REJECTED';
  authorized_payment_method?: { type: string };
  auto_capture?: boolean;
  klarna_correlation_id?: string;
  created_at: Date;
}

export function ordersRepository(db: Db) {
  const orders = db.collection<OrderDocument>(collections.orders);
  return {
    /**
     * Inserts the order once: a retried write of the same order changes nothing. Another order id
     * for a flow that already has one is refused by the unique index (never expected: a flow places
     * one order) and thrown, so it is seen instead of silently kept.
     */
    async save(doc: OrderDocument): Promise<void> {
      try {
        await orders.updateOne({ _id: doc._id }, { $setOnInsert: doc }, { upsert: true });
      } catch (err) {
        // Two writers of the same order at once: one inserted it, the other's upsert collided on _id.
        if (isDuplicateKeyError(err) && (await orders.findOne({ _id: doc._id, flow_id: doc.flow_id }))) return;
        throw err;
      }
    },
    findById: (orderId: string) => orders.findOne({ _id: orderId }),
    findByFlowId: (flowId: string) => orders.findOne({ flow_id: flowId }),
  };
}
export type OrdersRepository = ReturnType<typeof ordersRepository>;
