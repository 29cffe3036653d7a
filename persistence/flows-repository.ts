import type { Db, Filter } from 'mongodb';
import type { FlowStatusBase } from '../contracts/flow-status.js';
import { updateOneGuarded, type ServerKind } from './guarded-update.js';
import { collections } from './mongo.js';

/**
 * The durable copy of each flow's latest status (any flow type), outliving Temporal's retention
 * and answering reads when Temporal cannot. `seq` grows with every write the flow makes; a write
 * with an older `seq` than the stored one (a late retry) changes nothing.
 */
export interface FlowDocument<S extends FlowStatusBase = FlowStatusBase> {
  _id: string; // flow id (= workflow id)
  flow_type: string;
  merchant_reference: string;
  state: string;
  seq: number;
  status: S;
  created_at: Date;
  updated_at: Date;
}

export interface FlowListFilter {
  merchant_reference?: string;
  flow_type?: string;
  state?: string;
  since?: Date;
}

/** `options.kind`: force how guarded writes are made (tests run both ways); by default the server's. */
export function flowsRepository(db: Db, options: { kind?: ServerKind } = {}) {
  const flows = db.collection<FlowDocument>(collections.flows);
  return {
    /** Stores `status` unless a write with the same or a later `seq` is stored; says which. */
    async record(flowId: string, seq: number, status: FlowStatusBase, at: Date): Promise<'stored' | 'stale'> {
      const result = await updateOneGuarded(
        flows,
        flowId,
        {
          filter: { $or: [{ seq: { $lt: seq } }, { seq: { $exists: false } }] },
          holds: (doc) => !('seq' in doc) || (typeof doc.seq === 'number' && doc.seq < seq),
        },
        {
          $set: { flow_type: status.flow_type, merchant_reference: status.merchant_reference, state: status.state, seq, status, updated_at: at },
          $setOnInsert: { created_at: at },
        },
        { upsert: true, kind: options.kind },
      );
      return result === 'unchanged' ? 'stale' : 'stored';
    },
    /**
     * Flows newest first, filtered, one page at a time. `after` is the last document of the
     * previous page (created_at, _id): a stable keyset cursor, not an offset.
     */
    async list(filter: FlowListFilter, limit: number, after?: { created_at: Date; _id: string }): Promise<FlowDocument[]> {
      const query: Filter<FlowDocument> = {};
      if (filter.merchant_reference) query.merchant_reference = filter.merchant_reference;
      if (filter.flow_type) query.flow_type = filter.flow_type;
      if (filter.state) query.state = filter.state;
      const and: Filter<FlowDocument>[] = [];
      if (filter.since) and.push({ created_at: { $gte: filter.since } });
      if (after) and.push({ $or: [{ created_at: { $lt: after.created_at } }, { created_at: after.created_at, _id: { $lt: after._id } }] });
      if (and.length) query.$and = and;
      return flows.find(query).sort({ created_at: -1, _id: -1 }).limit(limit).toArray();
    },
    /** The newest charges on one token (by its token_ref in the charge's status). */
    chargesOnToken: (tokenRef: string, limit: number) =>
      flows.find({ flow_type: 'charge', 'status.token_ref': tokenRef } as Filter<FlowDocument>).sort({ created_at: -1, _id: -1 }).limit(limit).toArray(),
    /** A v2 flow that ended DECLINED with this decline context, if any (contracts/v2.ts). */
    findDeclined: (flowType: string, declineContext: string) =>
      flows.findOne({ flow_type: flowType, state: 'DECLINED', 'status.decline_context': declineContext } as Filter<FlowDocument>),
    find: <S extends FlowStatusBase = FlowStatusBase>(flowId: string) =>
      flows.findOne({ _id: flowId }) as Promise<FlowDocument<S> | null>,
  };
}
export type FlowsRepository = ReturnType<typeof flowsRepository>;
