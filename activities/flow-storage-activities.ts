import { Context } from '@temporalio/activity';
import type { FlowStatusBase } from '../contracts/flow-status.js';
import type { ShopperAuthorization } from '../contracts/tokenize.js';
import type { FlowsRepository } from '../persistence/flows-repository.js';
import type { KlarnaEventsRepository } from '../persistence/klarna-events-repository.js';
import type { Sealed, TokenVault } from '../persistence/token-vault.js';

export interface FlowStorageActivityDeps {
  flows: FlowsRepository;
  events: KlarnaEventsRepository;
  vault: TokenVault;
  now?: () => Date;
}

/**
 * The states that are a flow's outcome, whatever its type (each flow stores its outcome once, in
 * its last write; a subscription's only one is CANCELLED).
 */
const OUTCOME_STATES = new Set(['COMPLETED', 'COMPLETED_WITHOUT_TOKEN', 'FAILED', 'CANCELLED', 'ABANDONED', 'EXPIRED', 'DECLINED']);

/**
 * Counts a stored outcome on the worker's metrics (`flow_outcomes`, on its Prometheus endpoint
 * when WORKER_METRICS_ADDRESS is set; a no-op otherwise). Counted here, where the outcome is
 * stored, once per flow: a retry of the same write is `stale` and not counted again (a crash
 * between the write and the count loses that one count). Not in the API, which may read an
 * outcome many times or never.
 */
function countOutcome(status: FlowStatusBase): void {
  if (!OUTCOME_STATES.has(status.state)) return;
  let meter: Context['metricMeter'];
  try {
    meter = Context.current().metricMeter;
  } catch {
    return; // called outside an activity (a test): nothing to count on
  }
  meter
    .createCounter('flow_outcomes', '1', 'Flows that reached an outcome, by flow type, state and failure kind')
    .add(1, { flow_type: status.flow_type, state: status.state, failure_kind: status.failure?.kind ?? 'none' });
}

// Order of a tokenize flow's states, for the frozen v1 workflow's writes (it has no sequence).
const v1StateOrder: Record<string, number> = { CREATING_SESSION: 1, AWAITING_AUTHORIZATION: 2, CREATING_TOKEN: 3 };

/** Our own storage, for every flow: the status copy and the inbox. Run with `ownStorage` options. */
export function createFlowStorageActivities(deps: FlowStorageActivityDeps) {
  const now = deps.now ?? (() => new Date());
  return {
    /** Stores the flow's status; a late retry with an older `seq` changes nothing. */
    async recordFlowStatus(input: { flow_id: string; seq: number; status: FlowStatusBase }): Promise<void> {
      const result = await deps.flows.record(input.flow_id, input.seq, input.status, now());
      if (result === 'stale') Context.current().log.info('stale flow status write skipped', { flowId: input.flow_id, seq: input.seq });
      else countOutcome(input.status);
    },

    /** The frozen v1 workflow's status write; ordered by state (terminal states last). */
    async recordFlowState(status: FlowStatusBase): Promise<void> {
      if ((await deps.flows.record(status.flow_id, v1StateOrder[status.state] ?? 4, status, now())) === 'stored') countOutcome(status);
    },

    /** Authorizations stored in the inbox for this flow and not yet known to be delivered. */
    async collectPendingAuthorizations(input: { flow_id: string }): Promise<ShopperAuthorization[]> {
      const pending = await deps.events.pendingForFlow(input.flow_id);
      return pending.map((event) => ({
        authorization_token: deps.vault.open(event.payload.authorization_token as Sealed),
        ...(event.session_id ? { session_id: event.session_id } : {}),
        source: event.source === 'authorization_callback' ? ('klarna_callback' as const) : ('checkout' as const),
        event_id: event._id,
      }));
    },

    /** Marks inbox events as taken by their flow. */
    async markEventsDelivered(input: { event_ids: string[] }): Promise<void> {
      await deps.events.markDelivery(input.event_ids, 'delivered', now());
    },
  };
}
