import type { Db } from 'mongodb';
import type { TokenizeStatus } from '../contracts/flow-status.js';
import { collections } from './mongo.js';

/** A durable copy of each flow's latest status, outliving Temporal's retention. */
export interface FlowDocument {
  _id: string; // flow id (= workflow id)
  flow_type: string;
  merchant_reference: string;
  state: string;
  status: TokenizeStatus;
  created_at: Date;
  updated_at: Date;
}

export function flowsRepository(db: Db) {
  const flows = db.collection<FlowDocument>(collections.flows);
  return {
    async record(status: TokenizeStatus, at: Date): Promise<void> {
      await flows.updateOne(
        { _id: status.flow_id },
        {
          $set: { flow_type: status.flow_type, merchant_reference: status.merchant_reference, state: status.state, status, updated_at: at },
          $setOnInsert: { created_at: at },
        },
        { upsert: true },
      );
    },
    find: (flowId: string) => flows.findOne({ _id: flowId }),
  };
}
export type FlowsRepository = ReturnType<typeof flowsRepository>;
