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
    },

    /** The frozen v1 workflow's status write; ordered by state (terminal states last). */
    async recordFlowState(status: FlowStatusBase): Promise<void> {
      await deps.flows.record(status.flow_id, v1StateOrder[status.state] ?? 4, status, now());
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
