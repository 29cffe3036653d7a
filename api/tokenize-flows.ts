import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TokenizeStatus } from '../contracts/flow-status.js';
import { tokenizeFlowId, tokenizeInputFromRequest, type StartTokenizationRequest } from '../contracts/tokenize.js';
import { isTerminalTokenizeState, type CancellationReason } from '../contracts/flow-status.js';
import { cancelFlowUpdate, checkoutSessionUpdate, NOT_CANCELLABLE, tokenizeStatusQuery } from '../workflows/definitions.js';
import { ApiError } from './errors.js';
import { isTemporalUnavailable, temporarilyUnavailable, type FlowGateway, type StartOutcome as GatewayStartOutcome } from './flow-gateway.js';

export interface TokenizeFlowsOptions {
  gateway: FlowGateway;
  taskQueue: string;
  defaultAbandonmentMs: number;
}

/** How a start ended within its deadline: a new flow, an existing one, or one still starting. */
export type StartOutcome = GatewayStartOutcome<TokenizeStatus>;

/** Starting and reading tokenize flows on Temporal, for the HTTP routes; every call bounded. */
export function tokenizeFlows(options: TokenizeFlowsOptions) {
  const { gateway } = options;
  const { client } = gateway;

  const status = (flowId: string) => gateway.read<TokenizeStatus>(flowId, (handle) => handle.query(tokenizeStatusQuery));
  /** The status once it changes (or the wait ends): what a checkout waits on instead of polling. */
  const statusWhenChanged = (flowId: string, waitMs: number) =>
    gateway.readWhenChanged<TokenizeStatus>(flowId, (handle) => handle.query(tokenizeStatusQuery), waitMs, isTerminalTokenizeState);

  /** What a start answers when the flow has neither answered nor stored anything yet. */
  function startingStatus(flowId: string, body: StartTokenizationRequest): TokenizeStatus {
    const now = new Date().toISOString();
    return {
      flow_id: flowId,
      flow_type: 'tokenize',
      state: 'CREATING_SESSION',
      merchant_reference: body.merchant_reference,
      ignored_authorizations: 0,
      started_at: now,
      updated_at: now,
    };
  }

  return {
    status,
    statusWhenChanged,

    /**
     * Cancels a flow that is still waiting; answers with its final (CANCELLED) status. 409 once
     * the flow is past the point of no return or has ended; 404 for an unknown flow.
     */
    async cancel(flowId: string, reason: CancellationReason): Promise<TokenizeStatus> {
      const stored = await gateway.stored<TokenizeStatus>(flowId);
      if (stored && isTerminalTokenizeState(stored.state)) {
        throw new ApiError(409, 'not_cancellable', `Flow ${flowId} has ended (${stored.state}); it can no longer be cancelled.`);
      }
      try {
        return await gateway.within(gateway.deadlines.startMs, () =>
          client.workflow.getHandle(flowId).executeUpdate(cancelFlowUpdate, { args: [{ reason }] }),
        );
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === NOT_CANCELLABLE) {
          throw new ApiError(409, 'not_cancellable', `Flow ${flowId} cannot be cancelled: ${err.cause.message}.`);
        }
        const current = await status(flowId).catch(() => undefined);
        if (current === undefined && (await gateway.exists(flowId)) === false) throw new ApiError(404, 'not_found', `No flow ${flowId}.`);
        if (current && isTerminalTokenizeState(current.state)) {
          throw new ApiError(409, 'not_cancellable', `Flow ${flowId} has ended (${current.state}); it can no longer be cancelled.`);
        }
        if (isTemporalUnavailable(err)) throw temporarilyUnavailable('The flow');
        throw err;
      }
    },

    /**
     * Idempotent start in one round trip (update-with-start): the same key and body return the
     * same flow; the same key with another body is a 409. Answers within the start deadline: with
     * the Klarna session when it is ready, else `accepted` and the flow's current state.
     */
    async start(idempotencyKey: string, body: StartTokenizationRequest): Promise<StartOutcome> {
      const flowId = tokenizeFlowId(idempotencyKey);
      return gateway.startWithUpdate<TokenizeStatus>({
        workflowType: 'tokenizeWorkflow',
        flowId,
        idempotencyKey,
        taskQueue: options.taskQueue,
        body,
        input: (start) => tokenizeInputFromRequest(flowId, body, options.defaultAbandonmentMs, start),
        update: checkoutSessionUpdate,
        waitMs: gateway.deadlines.startMs,
        read: status,
        starting: () => startingStatus(flowId, body),
      });
    },
  };
}
export type TokenizeFlows = ReturnType<typeof tokenizeFlows>;
