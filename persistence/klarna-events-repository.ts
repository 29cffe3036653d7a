import type { Db } from 'mongodb';
import { collections, isDuplicateKeyError } from './mongo.js';

/**
 * Every callback and webhook from Klarna is stored before it is acknowledged, keyed by its event
 * id, so a redelivery is recognised and nothing is lost even when no flow takes it.
 */
export interface KlarnaEventDocument {
  _id: string; // event id
  source: 'authorization_callback';
  flow_id: string;
  session_id?: string;
  /** Secrets in the payload are sealed by the token vault before they get here. */
  payload: Record<string, unknown>;
  received_at: Date;
  delivery: 'pending' | 'signalled' | 'no_flow';
  delivered_at?: Date;
}

export function klarnaEventsRepository(db: Db) {
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
    async markDelivery(eventId: string, delivery: KlarnaEventDocument['delivery'], at: Date): Promise<void> {
      await events.updateOne({ _id: eventId }, { $set: { delivery, delivered_at: at } });
    },
    find: (eventId: string) => events.findOne({ _id: eventId }),
    listForFlow: (flowId: string) => events.find({ flow_id: flowId }).sort({ received_at: 1 }).toArray(),
  };
}
export type KlarnaEventsRepository = ReturnType<typeof klarnaEventsRepository>;
