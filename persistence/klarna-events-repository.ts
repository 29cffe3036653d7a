import type { Db } from 'mongodb';
import { updateOneGuarded, type ServerKind } from './guarded-update.js';
import { collections, isDuplicateKeyError } from './mongo.js';

/**
 * The inbox: every callback and webhook from Klarna, and every authorization a checkout submits,
 * is stored here before it is acknowledged, keyed by its event id, so a redelivery is recognised
 * and nothing is lost when Temporal cannot take it at once. `pending` events are delivered to
 * their flow again by the flow itself (it reads the inbox while it waits).
 */
export interface KlarnaEventDocument {
  _id: string; // event id
  source: 'authorization_callback' | 'checkout_authorization' | 'hpp_status_update' | 'v2_webhook';
  flow_id: string;
  session_id?: string;
  /** v2 webhooks: the payment request it is about (its flow may not be known yet when it arrives). */
  payment_request_id?: string;
  /** Secrets in the payload are sealed by the token vault before they get here. */
  payload: Record<string, unknown>;
  received_at: Date;
  /** pending: stored, not yet known to be in the flow; delivered: the flow has it; no_flow: no flow takes it. */
  delivery: 'pending' | 'delivered' | 'no_flow';
  delivered_at?: Date;
}

/** `options.kind`: force how guarded writes are made (tests run both ways); by default the server's. */
export function klarnaEventsRepository(db: Db, options: { kind?: ServerKind } = {}) {
  const events = db.collection<KlarnaEventDocument>(collections.klarnaEvents);
  return {
    /** Returns false when the event was stored before (a duplicate delivery). */
    async storeOnce(event: KlarnaEventDocument): Promise<boolean> {
      try {
        await events.insertOne(event);
        return true;
      } catch (err) {
        if (isDuplicateKeyError(err)) return false;
        throw err;
      }
    },
    async markDelivery(eventIds: string[], delivery: KlarnaEventDocument['delivery'], at: Date): Promise<void> {
      // Only pending events move: `delivered` is final. One by _id each (usually one).
      for (const eventId of eventIds) {
        await updateOneGuarded(
          events,
          eventId,
          { filter: { delivery: 'pending' }, holds: (doc) => doc.delivery === 'pending' },
          { $set: { delivery, delivered_at: at } },
          { kind: options.kind },
        );
      }
    },
    find: (eventId: string) => events.findOne({ _id: eventId }),
    /** Shopper authorizations (callbacks, checkout submissions) still pending that were stored before `before`, oldest first. */
    pendingAuthorizations: (before: Date, limit: number) =>
      events
        .find({ delivery: 'pending', source: { $in: ['authorization_callback', 'checkout_authorization'] }, received_at: { $lt: before } })
        .sort({ received_at: 1 })
        .limit(limit)
        .toArray(),
    pendingForFlow: (flowId: string) => events.find({ flow_id: flowId, delivery: 'pending' }).sort({ received_at: 1 }).limit(100).toArray(),
    /** v2: events of a payment request not yet known to be in its flow (the flow collects them while it waits). */
    pendingForPaymentRequest: (paymentRequestId: string) =>
      events.find({ payment_request_id: paymentRequestId, delivery: 'pending' }).sort({ received_at: 1 }).limit(100).toArray(),
    listForFlow: (flowId: string) => events.find({ flow_id: flowId }).sort({ received_at: 1 }).toArray(),
  };
}
export type KlarnaEventsRepository = ReturnType<typeof klarnaEventsRepository>;
