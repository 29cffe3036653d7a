import type { Db } from 'mongodb';
import type { MerchantEvent, MerchantEventRecord } from '../contracts/merchant-events.js';
import { collections, isDuplicateKeyError } from './mongo.js';

type Delivery = MerchantEventRecord['deliveries'][number];
export interface MerchantEventDocument extends Omit<MerchantEvent, 'id'> {
  _id: string; // event id
  deliveries: Delivery[];
}

/** Outbound events and their delivery log (natural id = event id: a retried write never duplicates). */
export function merchantEventsRepository(db: Db) {
  const events = db.collection<MerchantEventDocument>(collections.merchantEvents);
  return {
    async storeOnce(event: MerchantEvent, endpoints: readonly string[]): Promise<void> {
      const { id, ...rest } = event;
      try {
        await events.insertOne({ _id: id, ...rest, deliveries: endpoints.map((endpoint) => ({ endpoint, state: 'pending', attempts: [] })) });
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
      }
    },
    /** One delivery attempt to the `index`th endpoint (dot paths by index: FerretDB has no positional `$`). */
    async recordAttempt(eventId: string, index: number, attempt: { at: string; status?: number; error?: string }, state: Delivery['state']): Promise<void> {
      await events.updateOne({ _id: eventId }, { $push: { [`deliveries.${index}.attempts`]: attempt }, $set: { [`deliveries.${index}.state`]: state } } as never);
    },
    find: (eventId: string) => events.findOne({ _id: eventId }),
    list: (filter: { subscription_id?: string; type?: string }, limit: number) =>
      events
        .find({ ...(filter.subscription_id ? { subscription_id: filter.subscription_id } : {}), ...(filter.type ? { type: filter.type as MerchantEvent['type'] } : {}) })
        .sort({ created_at: -1, _id: -1 })
        .limit(limit)
        .toArray(),
  };
}
export type MerchantEventsRepository = ReturnType<typeof merchantEventsRepository>;
