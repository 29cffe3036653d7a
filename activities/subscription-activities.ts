import { ApplicationFailure } from '@temporalio/common';
import { isTerminalChargeState, type ChargeStatus } from '../contracts/charge.js';
import type { FlowsRepository } from '../persistence/flows-repository.js';

export interface SubscriptionActivityDeps {
  flows: FlowsRepository;
}

/** What the subscription workflow needs besides the charge and storage activities. */
export function createSubscriptionActivities(deps: SubscriptionActivityDeps) {
  return {
    /**
     * The outcome of a renewal charge started before (its id was taken: REJECT_DUPLICATE), from
     * its stored copy. Retried (ownStorage: no limit) while that charge has no outcome yet.
     */
    async storedChargeOutcome(input: { charge_id: string }): Promise<ChargeStatus> {
      const doc = await deps.flows.find<ChargeStatus>(input.charge_id);
      if (doc && isTerminalChargeState(doc.status.state)) return doc.status;
      throw ApplicationFailure.create({ type: 'charge_outcome_pending', message: `charge ${input.charge_id} has no stored outcome yet` });
    },
  };
}
