import { randomUUID } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TokenizeStatus } from '../contracts/flow-status.js';
import { tokenizeFlowId, tokenizeInputFromRequest, type StartTokenizationRequest } from '../contracts/tokenize.js';
import { isTerminalTokenizeState, type CancellationReason } from '../contracts/flow-status.js';
import { cancelFlowUpdate, checkoutSessionUpdate, IDEMPOTENCY_CONFLICT, NOT_CANCELLABLE, tokenizeStatusQuery } from '../workflows/definitions.js';
import { ApiError } from './errors.js';
import { isTemporalUnavailable, requestFingerprint, temporarilyUnavailable, type FlowGateway } from './flow-gateway.js';

export interface TokenizeFlowsOptions {
  gateway: FlowGateway;
  taskQueue: string;
  defaultAbandonmentMs: number;
}

/** How a start ended within its deadline: a new flow, an existing one, or one still starting. */
export type StartOutcome = { outcome: 'created' | 'existing' | 'accepted'; status: TokenizeStatus };

/** Starting and reading tokenize flows on Temporal, for the HTTP routes; every call bounded. */
export function tokenizeFlows(options: TokenizeFlowsOptions) {
  const { gateway } = options;
  const { client } = gateway;

  const status = (flowId: string) => gateway.read<TokenizeStatus>(flowId, (handle) => handle.query(tokenizeStatusQuery));
  /** The status once it changes (or the wait ends): what a checkout waits on instead of polling. */
  const statusWhenChanged = (flowId: string, waitMs: number) =>
    gateway.readWhenChanged<TokenizeStatus>(flowId, (handle) => handle.query(tokenizeStatusQuery), waitMs, isTerminalTokenizeState);

  /** What a start answers when the flow exists but has not answered within the deadline. */
  async function startingStatus(flowId: string, body: StartTokenizationRequest): Promise<TokenizeStatus> {
    const stored = await gateway.stored<TokenizeStatus>(flowId);
    if (stored) return stored;
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
      const fingerprint = requestFingerprint(body);
      const requestId = randomUUID();
      const startOperation = new WithStartWorkflowOperation('tokenizeWorkflow', {
        taskQueue: options.taskQueue,
        workflowId: flowId,
        args: [tokenizeInputFromRequest(flowId, body, options.defaultAbandonmentMs, { fingerprint, requestId })],
        memo: { request_fingerprint: fingerprint },
        workflowIdConflictPolicy: 'USE_EXISTING',
        // A finished flow keeps its id: the key cannot start a second tokenization.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      try {
        const answer = await gateway.within(gateway.deadlines.startMs, () =>
          client.workflow.executeUpdateWithStart(checkoutSessionUpdate, {
            args: [{ request_fingerprint: fingerprint, request_id: requestId }],
            startWorkflowOperation: startOperation,
          }),
        );
        return { outcome: answer.created ? 'created' : 'existing', status: answer.status };
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === IDEMPOTENCY_CONFLICT) {
          throw new ApiError(409, 'idempotency_conflict', `Idempotency key ${idempotencyKey} was already used with a different request.`);
        }
        return this.afterUnansweredStart(flowId, idempotencyKey, body, fingerprint, err);
      }
    },

    /** The start got no update answer: a closed flow, an older flow, or Temporal too slow. */
    async afterUnansweredStart(
      flowId: string,
      idempotencyKey: string,
      body: StartTokenizationRequest,
      fingerprint: string,
      err: unknown,
    ): Promise<StartOutcome> {
      let memoFingerprint: unknown;
      try {
        const description = await gateway.within(gateway.deadlines.readMs, () => client.workflow.getHandle(flowId).describe());
        memoFingerprint = description.memo?.request_fingerprint;
      } catch {
        if (isTemporalUnavailable(err) || err instanceof WorkflowExecutionAlreadyStartedError) throw temporarilyUnavailable('Temporal');
        throw err;
      }
      if (memoFingerprint !== fingerprint) {
        throw new ApiError(409, 'idempotency_conflict', `Idempotency key ${idempotencyKey} was already used with a different request.`);
      }
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        // Closed (or a flow that does not take this update): its status says how it ended.
        const current = await status(flowId);
        if (current) return { outcome: 'existing', status: current };
      }
      return { outcome: 'accepted', status: await startingStatus(flowId, body) };
    },
  };
}
export type TokenizeFlows = ReturnType<typeof tokenizeFlows>;
