import { patched, proxyActivities, proxyLocalActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { FlowFailure, FlowStatusBase } from '../contracts/flow-status.js';
import { ownStorage, ownStorageLocal } from './activity-presets.js';
import { FlowState, FlowType, MerchantReference } from './search-attributes.js';

const { recordFlowStatus: recordRemotely } = proxyActivities<Activities>(ownStorage);
const { recordFlowStatus: recordLocally } = proxyLocalActivities<Activities>(ownStorageLocal);

/**
 * Status writes run as local activities since this patch; executions started before it keep the
 * remote activity they recorded (their histories replay unchanged).
 */
export const LOCAL_STATUS_WRITES_PATCH = 'local-status-writes';
const recordFlowStatus = (input: Parameters<Activities['recordFlowStatus']>[0]) =>
  patched(LOCAL_STATUS_WRITES_PATCH) ? recordLocally(input) : recordRemotely(input);

/**
 * A flow's status as every flow keeps it: in memory for queries, in search attributes for the
 * Temporal UI, and in MongoDB (the durable copy the API reads when Temporal cannot answer).
 * Each stored write carries a sequence number, so a late retry never moves the stored copy back.
 * The outcome is stored before it is shown: whoever sees a terminal state (query, search
 * attribute) can rely on the stored copy.
 */
export function trackFlowStatus<S extends FlowStatusBase>(status: S, isTerminal: (state: S['state']) => boolean) {
  let seq = 0;
  let outcome: S['state'] | undefined;
  const now = () => new Date(Date.now()).toISOString();

  upsertSearchAttributes([
    { key: FlowType, value: status.flow_type },
    { key: MerchantReference, value: status.merchant_reference },
    { key: FlowState, value: status.state },
  ]);

  const show = (state: S['state']) => {
    status.state = state;
    status.updated_at = now();
    upsertSearchAttributes([{ key: FlowState, value: state }]);
  };

  return {
    status,
    /** The outcome once decided (possibly not yet stored or shown). */
    get outcome() {
      return outcome;
    },
    /** Still before its outcome: signals and updates may change what happens. */
    get open() {
      return outcome === undefined && !isTerminal(status.state);
    },
    /** Shows a non-terminal state (query, search attribute); `save()` stores it. */
    moveTo: show,
    /** Stores the current status (never gives up; monotonic). */
    async save(): Promise<void> {
      seq += 1;
      await recordFlowStatus({ flow_id: status.flow_id, seq, status: { ...status } });
    },
    /** Decides, stores, then shows the terminal state. */
    async finish(state: S['state'], failure?: FlowFailure): Promise<S> {
      outcome = state;
      if (failure) status.failure = failure;
      seq += 1;
      await recordFlowStatus({ flow_id: status.flow_id, seq, status: { ...status, state, updated_at: now() } });
      show(state);
      return status;
    },
  };
}
