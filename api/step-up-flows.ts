import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow/index.js';
import type { ChargeInput, ChargeStatus } from '../contracts/charge.js';
import {
  DEFAULT_SHOPPER_TIMEOUT_MS,
  isTerminalStepUpState,
  stepUpFlowId,
  type StartStepUpRequest,
  type StepUpInput,
  type StepUpStatus,
} from '../contracts/step-up.js';
import type { CancellationReason } from '../contracts/flow-status.js';
import { cancelStepUpUpdate, chargeStatusQuery, IDEMPOTENCY_CONFLICT, NOT_CANCELLABLE, stepUpSessionUpdate, stepUpStatusQuery } from '../workflows/definitions.js';
import { ApiError } from './errors.js';
import { isTemporalUnavailable, requestFingerprint, temporarilyUnavailable, type FlowGateway } from './flow-gateway.js';

export type StepUpStartOutcome = { outcome: 'created' | 'existing' | 'accepted'; status: StepUpStatus };

/** Starting and reading step-up recoveries (one per charge) on Temporal, for the HTTP routes. */
export function stepUpFlows(options: { gateway: FlowGateway; taskQueue: string }) {
  const { gateway } = options;
  const { client } = gateway;
  const status = (flowId: string) => gateway.read<StepUpStatus>(flowId, (handle) => handle.query(stepUpStatusQuery));

  /** The failed charge's order, from the charge workflow's own input (the charge status carries only totals). */
  async function chargeOrder(chargeId: string): Promise<ChargeInput> {
    const { events } = await gateway.within(gateway.deadlines.readMs, () => client.workflow.getHandle(chargeId).fetchHistory());
    const started = events?.[0]?.workflowExecutionStartedEventAttributes;
    const decoded = started?.input?.payloads?.length
      ? await decodeFromPayloadsAtIndex<ChargeInput>(client.options.loadedDataConverter, 0, started.input.payloads)
      : undefined;
    if (!decoded) throw new ApiError(409, 'step_up_not_available', `The order of charge ${chargeId} cannot be read.`);
    return decoded;
  }

  return {
    status,
    statusWhenChanged: (flowId: string, waitMs: number) =>
      gateway.readWhenChanged<StepUpStatus>(flowId, (handle) => handle.query(stepUpStatusQuery), waitMs, isTerminalStepUpState),

    /** Ends a recovery still waiting for the shopper (shopper_declined → DECLINED, else CANCELLED); 409 once it is placing the order or has ended. */
    async cancel(chargeId: string, reason: CancellationReason): Promise<StepUpStatus> {
      const flowId = stepUpFlowId(chargeId);
      const stored = await gateway.stored<StepUpStatus>(flowId);
      if (stored && isTerminalStepUpState(stored.state)) {
        throw new ApiError(409, 'not_cancellable', `The step-up recovery of ${chargeId} has ended (${stored.state}); it can no longer be cancelled.`);
      }
      try {
        return await gateway.within(gateway.deadlines.startMs, () => client.workflow.getHandle(flowId).executeUpdate(cancelStepUpUpdate, { args: [{ reason }] }));
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === NOT_CANCELLABLE) {
          throw new ApiError(409, 'not_cancellable', `The step-up recovery of ${chargeId} cannot be cancelled: ${err.cause.message}.`);
        }
        const current = await status(flowId).catch(() => undefined);
        if (current === undefined && (await gateway.exists(flowId)) === false) throw new ApiError(404, 'not_found', `Charge ${chargeId} has no step-up recovery.`);
        if (current && isTerminalStepUpState(current.state)) {
          throw new ApiError(409, 'not_cancellable', `The step-up recovery of ${chargeId} has ended (${current.state}); it can no longer be cancelled.`);
        }
        if (isTemporalUnavailable(err)) throw temporarilyUnavailable('The flow');
        throw err;
      }
    },

    /**
     * One recovery per charge (update-with-start on `stepup-<charge id>`): answers once the
     * checkout has what it needs (client_token or redirect_url). Only for a charge that FAILED with
     * `step_up_required` and a `step_up_id` while the shopper was present; otherwise 409.
     */
    async start(chargeId: string, body: StartStepUpRequest): Promise<StepUpStartOutcome> {
      const flowId = stepUpFlowId(chargeId);
      const charge = await gateway.read<ChargeStatus>(chargeId, (handle) => handle.query(chargeStatusQuery));
      if (!charge) throw new ApiError(404, 'not_found', `No charge ${chargeId}.`);
      const stepUpId = charge.failure?.step_up_id;
      if (charge.state !== 'FAILED' || charge.failure?.kind !== 'step_up_required' || !stepUpId) {
        throw new ApiError(409, 'step_up_not_available', `Charge ${chargeId} is ${charge.state}${charge.failure ? ` (${charge.failure.kind})` : ''}: only a charge Klarna refused with a step_up_id can be recovered.`);
      }
      if (!charge.customer_present) {
        throw new ApiError(409, 'step_up_not_available', `Charge ${chargeId} was made without the shopper present (customer_present: false): step-up needs the shopper.`);
      }
      const existing = await gateway.stored<StepUpStatus>(flowId);
      const fingerprint = requestFingerprint(body);
      const requestId = randomUUID();
      const chargeInput = existing ? undefined : await chargeOrder(chargeId);
      const input: StepUpInput = {
        flow_id: flowId,
        charge_id: chargeId,
        merchant_reference: charge.merchant_reference,
        token_ref: charge.token_ref,
        step_up_id: stepUpId,
        order: chargeInput?.order ?? ({} as ChargeInput['order']),
        integration: body.integration,
        ...(body.integration === 'hpp'
          ? {
              hpp: {
                place_order_mode: body.hpp?.place_order_mode ?? 'NONE',
                merchant_urls: {
                  ...(body.hpp?.success_url ? { success: body.hpp.success_url } : {}),
                  ...(body.hpp?.cancel_url ? { cancel: body.hpp.cancel_url } : {}),
                  ...(body.hpp?.back_url ? { back: body.hpp.back_url } : {}),
                  ...(body.hpp?.failure_url ? { failure: body.hpp.failure_url } : {}),
                  ...(body.hpp?.error_url ? { error: body.hpp.error_url } : {}),
                },
              },
            }
          : {}),
        shopper_timeout_ms: body.shopper_timeout ?? DEFAULT_SHOPPER_TIMEOUT_MS,
        request_fingerprint: fingerprint,
        start_request_id: requestId,
      };
      const startOperation = new WithStartWorkflowOperation('stepUpRecoveryWorkflow', {
        taskQueue: options.taskQueue,
        workflowId: flowId,
        args: [input],
        memo: { request_fingerprint: fingerprint },
        workflowIdConflictPolicy: 'USE_EXISTING',
        // One recovery per charge, ever: the step_up_id is Klarna's for one recovery.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      try {
        const answer = await gateway.within(gateway.deadlines.startMs, () =>
          client.workflow.executeUpdateWithStart(stepUpSessionUpdate, { args: [{ request_fingerprint: fingerprint, request_id: requestId }], startWorkflowOperation: startOperation }),
        );
        return { outcome: answer.created ? 'created' : 'existing', status: answer.status };
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === IDEMPOTENCY_CONFLICT) {
          throw new ApiError(409, 'idempotency_conflict', `Charge ${chargeId} already has a step-up recovery with other settings.`);
        }
        let memoFingerprint: unknown;
        try {
          const description = await gateway.within(gateway.deadlines.readMs, () => client.workflow.getHandle(flowId).describe());
          memoFingerprint = description.memo?.request_fingerprint;
        } catch (describeErr) {
          if (!(describeErr instanceof WorkflowNotFoundError)) {
            if (isTemporalUnavailable(err)) throw temporarilyUnavailable('Temporal');
            throw err;
          }
          throw temporarilyUnavailable('Temporal');
        }
        if (memoFingerprint !== fingerprint) throw new ApiError(409, 'idempotency_conflict', `Charge ${chargeId} already has a step-up recovery with other settings.`);
        const current = await status(flowId).catch(() => undefined);
        if (current) return { outcome: isTerminalStepUpState(current.state) || current.state !== 'CREATING_SESSION' ? 'existing' : 'accepted', status: current };
        throw temporarilyUnavailable('Temporal');
      }
    },
  };
}
export type StepUpFlows = ReturnType<typeof stepUpFlows>;
