import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  buyAndTokenizeFlowId,
  buyAndTokenizeInputFromRequest,
  isTerminalBuyAndTokenizeState,
  type BuyAndTokenizeStatus,
  type StartBuyAndTokenizeRequest,
} from '../contracts/buy-and-tokenize.js';
import type { CancellationReason } from '../contracts/flow-status.js';
import {
  buyAndTokenizeCheckoutSessionUpdate,
  buyAndTokenizeStatusQuery,
  cancelBuyAndTokenizeUpdate,
  NOT_CANCELLABLE,
} from '../workflows/definitions.js';
import { ApiError } from './errors.js';
import { isTemporalUnavailable, temporarilyUnavailable, type FlowGateway } from './flow-gateway.js';

export interface BuyAndTokenizeFlowsOptions {
  gateway: FlowGateway;
  taskQueue: string;
  defaultAbandonmentMs: number;
}

export type BuyAndTokenizeStartOutcome = { outcome: 'created' | 'existing' | 'accepted'; status: BuyAndTokenizeStatus };

/**
 * Starting, reading and cancelling buy-and-tokenize flows on Temporal, for the HTTP routes; every
 * call bounded by the shared gateway. The same contract as tokenize's (api/tokenize-flows.ts).
 */
export function buyAndTokenizeFlows(options: BuyAndTokenizeFlowsOptions) {
  const { gateway } = options;
  const { client } = gateway;
  const ended = (flowId: string, state: string) =>
    new ApiError(409, 'not_cancellable', `Flow ${flowId} has ended (${state}); it can no longer be cancelled.`);

  const status = (flowId: string) => gateway.read<BuyAndTokenizeStatus>(flowId, (handle) => handle.query(buyAndTokenizeStatusQuery));

  /** What a start answers when the flow has neither answered nor stored anything yet. */
  function startingStatus(flowId: string, body: StartBuyAndTokenizeRequest): BuyAndTokenizeStatus {
    const now = new Date().toISOString();
    return {
      flow_id: flowId,
      flow_type: 'buy_and_tokenize',
      state: 'CREATING_SESSION',
      merchant_reference: body.merchant_reference,
      require_token: body.require_token ?? true,
      ignored_authorizations: 0,
      started_at: now,
      updated_at: now,
    };
  }

  return {
    status,

    /**
     * Idempotent start in one round trip (update-with-start): the same key and body return the
     * same flow; the same key with another body is a 409. Answers within the start deadline: with
     * the Klarna session when it is ready, else `accepted` and the flow's current state.
     */
    async start(idempotencyKey: string, body: StartBuyAndTokenizeRequest): Promise<BuyAndTokenizeStartOutcome> {
      const flowId = buyAndTokenizeFlowId(idempotencyKey);
      return gateway.startWithUpdate<BuyAndTokenizeStatus>({
        workflowType: 'buyAndTokenizeWorkflow',
        flowId,
        idempotencyKey,
        taskQueue: options.taskQueue,
        body,
        input: (start) => buyAndTokenizeInputFromRequest(flowId, body, options.defaultAbandonmentMs, start),
        update: buyAndTokenizeCheckoutSessionUpdate,
        waitMs: gateway.deadlines.startMs,
        read: status,
        starting: () => startingStatus(flowId, body),
      });
    },

    /**
     * Cancels a flow that is still waiting; answers with its final (CANCELLED) status. 409 once
     * Klarna is making the token or the flow has ended; 404 for an unknown flow.
     */
    async cancel(flowId: string, reason: CancellationReason): Promise<BuyAndTokenizeStatus> {
      const stored = await gateway.stored<BuyAndTokenizeStatus>(flowId);
      if (stored && isTerminalBuyAndTokenizeState(stored.state)) throw ended(flowId, stored.state);
      try {
        return await gateway.within(gateway.deadlines.startMs, () =>
          client.workflow.getHandle(flowId).executeUpdate(cancelBuyAndTokenizeUpdate, { args: [{ reason }] }),
        );
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === NOT_CANCELLABLE) {
          throw new ApiError(409, 'not_cancellable', `Flow ${flowId} cannot be cancelled: ${err.cause.message}.`);
        }
        const current = await status(flowId).catch(() => undefined);
        if (current === undefined && (await gateway.exists(flowId)) === false) throw new ApiError(404, 'not_found', `No flow ${flowId}.`);
        if (current && isTerminalBuyAndTokenizeState(current.state)) throw ended(flowId, current.state);
        if (isTemporalUnavailable(err)) throw temporarilyUnavailable('The flow');
        throw err;
      }
    },
  };
}
export type BuyAndTokenizeFlows = ReturnType<typeof buyAndTokenizeFlows>;
