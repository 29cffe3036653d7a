import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { UpdateDefinition } from '@temporalio/common';
import { marketIssues } from '../contracts/klarna-market-rules.js';
import { tokenMaintenanceIdPrefix } from '../contracts/token.js';
import { initialSubscriptionStatus, subscriptionInputFromRequest } from '../contracts/subscription-rules.js';
import {
  subscriptionId,
  type BillingPeriod,
  type CreateSubscriptionRequest,
  type SubscriptionInput,
  type SubscriptionStatus,
} from '../contracts/subscription.js';
import type { CustomerTokensRepository } from '../persistence/customer-tokens-repository.js';
import { chargeNowUpdate, SUBSCRIPTION_CONFLICT, subscriptionStatusQuery } from '../workflows/definitions.js';
import { ApiError } from './errors.js';
import { isTemporalUnavailable, requestFingerprint, temporarilyUnavailable, type FlowGateway } from './flow-gateway.js';

export interface SubscriptionFlowsOptions {
  gateway: FlowGateway;
  taskQueue: string;
  customerTokens: CustomerTokensRepository;
}

/** Starting, reading and steering subscription workflows, for the HTTP routes; every call bounded. */
export function subscriptionFlows(options: SubscriptionFlowsOptions) {
  const { gateway, customerTokens } = options;
  const { client } = gateway;

  const status = (id: string) => gateway.read<SubscriptionStatus>(id, (handle) => handle.query(subscriptionStatusQuery));

  const initialStatus = (input: SubscriptionInput): SubscriptionStatus => {
    const now = new Date().toISOString();
    return initialSubscriptionStatus(input, input.billing_anchor, now);
  };

  /** Maps what Temporal answers an update to the API's answers (409 refused, 404 unknown, 503). */
  async function updateFailure(id: string, err: unknown): Promise<never> {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === SUBSCRIPTION_CONFLICT) {
      throw new ApiError(409, 'subscription_conflict', err.cause.message);
    }
    if (err instanceof WorkflowNotFoundError) {
      const stored = await gateway.stored<SubscriptionStatus>(id);
      if (!stored) throw new ApiError(404, 'not_found', `No subscription ${id}.`);
      throw new ApiError(409, 'subscription_conflict', `Subscription ${id} has ended (${stored.state}).`);
    }
    if (isTemporalUnavailable(err)) throw temporarilyUnavailable('Temporal');
    throw err;
  }

  async function update<A extends unknown[]>(id: string, def: UpdateDefinition<SubscriptionStatus, A>, args: A): Promise<SubscriptionStatus> {
    const handle: WorkflowHandle = client.workflow.getHandle(id);
    try {
      return await gateway.within(gateway.deadlines.startMs, () => handle.executeUpdate(def as unknown as UpdateDefinition<SubscriptionStatus, [unknown]>, { args: args as unknown as [unknown] }));
    } catch (err) {
      return updateFailure(id, err);
    }
  }

  return {
    status,
    update,

    /**
     * Idempotent start: the Idempotency-Key names the subscription (`sub-<key>`); the same key and
     * body return it again, another body is a 409. Unknown tokens and market mismatches are
     * refused before anything starts.
     */
    async create(key: string, body: CreateSubscriptionRequest): Promise<{ outcome: 'created' | 'existing'; status: SubscriptionStatus }> {
      const token = await customerTokens.findByRef(body.token_ref);
      if (!token) {
        throw new ApiError(404, 'token_not_found', `No vaulted token ${body.token_ref}.`, [{ field: 'body.token_ref', message: 'names no token of this merchant' }]);
      }
      const market = marketIssues({ purchase_country: token.purchase_country, purchase_currency: body.purchase_currency });
      if (market.length > 0) {
        throw new ApiError(400, 'invalid_request', 'The request has invalid fields.', [
          { field: 'body.purchase_currency', message: `the token's market is ${token.purchase_country}: ${market.map((i) => i.message).join('; ')}` },
        ]);
      }
      const id = subscriptionId(key);
      const fingerprint = requestFingerprint(body);
      const input = { ...subscriptionInputFromRequest(id, body, fingerprint), notify_merchant: true };
      let outcome: 'created' | 'existing' = 'created';
      try {
        await gateway.within(gateway.deadlines.startMs, () =>
          client.workflow.start('subscriptionWorkflow', {
            taskQueue: options.taskQueue,
            workflowId: id,
            args: [input],
            memo: { request_fingerprint: fingerprint },
            // A subscription id is used once, forever (its charges' ids derive from it).
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
          }),
        );
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
          if (isTemporalUnavailable(err)) throw temporarilyUnavailable('Temporal');
          throw err;
        }
        const description = await gateway.within(gateway.deadlines.readMs, () => client.workflow.getHandle(id).describe()).catch(() => undefined);
        if (description?.memo?.request_fingerprint !== fingerprint) {
          throw new ApiError(409, 'idempotency_conflict', `Idempotency key ${key} was already used with a different request.`);
        }
        outcome = 'existing';
      }
      return { outcome, status: (await status(id).catch(() => undefined)) ?? initialStatus(input) };
    },

    /**
     * Cancels the token at Klarna for a subscription that has already ended: the DELETE
     * /v1/tokens/{ref} workflow (same id, so the same cancel when it ran before).
     */
    async cancelToken(tokenRef: string): Promise<'done' | 'requested'> {
      const workflowId = `${tokenMaintenanceIdPrefix.cancel}${tokenRef}`;
      try {
        await gateway.within(gateway.deadlines.startMs, () =>
          client.workflow.execute('cancelTokenWorkflow', {
            taskQueue: options.taskQueue,
            workflowId,
            args: [{ token_ref: tokenRef, idempotency_key: workflowId }],
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
            workflowIdConflictPolicy: 'USE_EXISTING',
          }),
        );
        return 'done';
      } catch (err) {
        // Cancelled before (the id is taken by a finished cancel), or still going after the deadline.
        if (err instanceof WorkflowExecutionAlreadyStartedError) return 'done';
        if (isTemporalUnavailable(err)) return 'requested';
        throw err;
      }
    },

    /** Charges the period due now unless paid; the period, or undefined when it is still charging after `waitMs`. */
    async chargeNow(id: string, waitMs: number): Promise<{ settled: boolean; period: BillingPeriod }> {
      const handle = client.workflow.getHandle(id);
      try {
        const period = await gateway.within(waitMs, () => handle.executeUpdate(chargeNowUpdate, { args: [] }));
        return { settled: true, period };
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError || !isTemporalUnavailable(err)) return updateFailure(id, err);
        // Still charging after the wait: the period as it stands (the charge goes on).
        const current = await status(id);
        // A wait too short to hear back from Temporal (e.g. `wait=1`) on a subscription that does not exist.
        if (!current) throw new ApiError(404, 'not_found', `No subscription ${id}.`);
        const period = current.periods.find((p) => p.state === 'CHARGING') ?? current.periods.at(-1);
        if (!period) throw temporarilyUnavailable('Temporal');
        return { settled: false, period };
      }
    },
  };
}
export type SubscriptionFlows = ReturnType<typeof subscriptionFlows>;
