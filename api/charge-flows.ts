import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { chargeFlowId, chargeInputFromRequest, isTerminalChargeState, type ChargeStatus, type StartChargeRequest } from '../contracts/charge.js';
import { marketIssues } from '../contracts/klarna-market-rules.js';
import type { CustomerTokensRepository } from '../persistence/customer-tokens-repository.js';
import { chargeOutcomeUpdate, chargeStatusQuery, IDEMPOTENCY_CONFLICT } from '../workflows/definitions.js';
import { ApiError } from './errors.js';
import { isTemporalUnavailable, requestFingerprint, temporarilyUnavailable, type FlowGateway } from './flow-gateway.js';

export interface ChargeFlowsOptions {
  gateway: FlowGateway;
  taskQueue: string;
  customerTokens: CustomerTokensRepository;
}

export type ChargeStartOutcome = { outcome: 'created' | 'existing' | 'accepted'; status: ChargeStatus };

/** Starting and reading token charges on Temporal, for the HTTP routes; every call bounded. */
export function chargeFlows(options: ChargeFlowsOptions) {
  const { gateway, customerTokens } = options;
  const { client } = gateway;

  const status = (flowId: string) => gateway.read<ChargeStatus>(flowId, (handle) => handle.query(chargeStatusQuery));
  const statusWhenChanged = (flowId: string, waitMs: number) =>
    gateway.readWhenChanged<ChargeStatus>(flowId, (handle) => handle.query(chargeStatusQuery), waitMs, isTerminalChargeState);

  async function startingStatus(flowId: string, body: StartChargeRequest): Promise<ChargeStatus> {
    const stored = await gateway.stored<ChargeStatus>(flowId);
    if (stored) return stored;
    const now = new Date().toISOString();
    return {
      flow_id: flowId,
      flow_type: 'charge',
      state: 'PLACING_ORDER',
      merchant_reference: body.merchant_reference,
      token_ref: body.token_ref,
      order_amount: body.order_amount,
      purchase_currency: body.purchase_currency,
      customer_present: body.customer_present,
      started_at: now,
      updated_at: now,
    };
  }

  return {
    status,
    statusWhenChanged,

    /**
     * Idempotent charge in one round trip (update-with-start): answers with the outcome when it
     * settles within `waitMs`, else `accepted` with the charge as it stands. The same key and body
     * return the same charge; the same key with another body is a 409. Unknown tokens and market
     * mismatches are refused before anything starts.
     */
    async start(idempotencyKey: string, body: StartChargeRequest, waitMs: number): Promise<ChargeStartOutcome> {
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

      const flowId = chargeFlowId(idempotencyKey);
      const fingerprint = requestFingerprint(body);
      const requestId = randomUUID();
      const startOperation = new WithStartWorkflowOperation('chargeWorkflow', {
        taskQueue: options.taskQueue,
        workflowId: flowId,
        args: [chargeInputFromRequest(flowId, body, { fingerprint, requestId })],
        memo: { request_fingerprint: fingerprint },
        workflowIdConflictPolicy: 'USE_EXISTING',
        // A charge id is used once, forever: the same key never places a second order.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      try {
        const answer = await gateway.within(waitMs, () =>
          client.workflow.executeUpdateWithStart(chargeOutcomeUpdate, {
            args: [{ request_fingerprint: fingerprint, request_id: requestId }],
            startWorkflowOperation: startOperation,
          }),
        );
        return { outcome: answer.created ? 'created' : 'existing', status: answer.status };
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === IDEMPOTENCY_CONFLICT) {
          throw new ApiError(409, 'idempotency_conflict', `Idempotency key ${idempotencyKey} was already used with a different request.`);
        }
        // A closed charge (the update cannot be taken) or one still going after the wait.
        let memoFingerprint: unknown;
        try {
          const description = await gateway.within(gateway.deadlines.readMs, () => client.workflow.getHandle(flowId).describe());
          memoFingerprint = description.memo?.request_fingerprint;
        } catch (describeErr) {
          if (!(describeErr instanceof WorkflowNotFoundError)) {
            if (isTemporalUnavailable(err)) throw temporarilyUnavailable('Temporal');
            throw err;
          }
          // The wait ran out before the start reached Temporal: start it now (same id, same
          // input; idempotent), so a 202 always names a charge that exists.
          await gateway.within(gateway.deadlines.startMs, () => client.workflow.start('chargeWorkflow', startOperation.options));
          memoFingerprint = fingerprint;
        }
        if (memoFingerprint !== fingerprint) {
          throw new ApiError(409, 'idempotency_conflict', `Idempotency key ${idempotencyKey} was already used with a different request.`);
        }
        const current = await status(flowId).catch(() => undefined);
        if (current && current.state !== 'PLACING_ORDER') return { outcome: 'existing', status: current };
        return { outcome: 'accepted', status: current ?? (await startingStatus(flowId, body)) };
      }
    },
  };
}
export type ChargeFlows = ReturnType<typeof chargeFlows>;
