import { ApplicationFailure, condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { ChargeInput, ChargeStatus } from '../contracts/charge.js';
import { isTerminalChargeState } from '../contracts/flow-states.js';
import type { Activities } from '../activities/index.js';
import { klarnaCall } from './activity-presets.js';
import { chargeOutcomeUpdate, chargeStatusQuery, IDEMPOTENCY_CONFLICT } from './definitions.js';
import { describeFailure } from './describe-failure.js';
import { trackFlowStatus } from './flow-status-tracker.js';

/**
 * Token charge: one Klarna token order, placed at most once. The charge id (the workflow id) is
 * also the `Klarna-Idempotency-Key`, so every retry (activity retries, a killed worker, the API
 * retried by the checkout) reaches Klarna as the same request and gets the first answer back.
 * COMPLETED carries the order (stored before shown); FAILED carries the reason and, when the
 * shopper can fix it, Klarna's `step_up_id`.
 */
export async function chargeWorkflow(input: ChargeInput): Promise<ChargeStatus> {
  const startedAt = new Date(Date.now()).toISOString();
  const flow = trackFlowStatus<ChargeStatus>(
    {
      flow_id: input.flow_id,
      flow_type: 'charge',
      state: 'PLACING_ORDER',
      merchant_reference: input.merchant_reference,
      token_ref: input.token_ref,
      order_amount: input.order.order_amount,
      purchase_currency: input.order.purchase_currency,
      customer_present: input.customer_present,
      started_at: startedAt,
      updated_at: startedAt,
    },
    isTerminalChargeState,
  );
  const { status } = flow;

  setHandler(chargeStatusQuery, () => status);
  setHandler(
    chargeOutcomeUpdate,
    async (request) => {
      await condition(() => isTerminalChargeState(status.state));
      return { status, created: request.request_id === input.start_request_id };
    },
    {
      validator: (request) => {
        if (input.request_fingerprint && request.request_fingerprint !== input.request_fingerprint) {
          throw ApplicationFailure.create({ type: IDEMPOTENCY_CONFLICT, message: 'the idempotency key was used with a different request' });
        }
      },
    },
  );

  // Timeouts, 5xx and 429 are retried with the same key until the charge's retry deadline.
  const { placeTokenOrder } = proxyActivities<Activities>({ ...klarnaCall, scheduleToCloseTimeout: input.retry_deadline_ms });
  try {
    status.order = await placeTokenOrder({
      charge_id: input.flow_id,
      token_ref: input.token_ref,
      idempotency_key: input.flow_id,
      customer_present: input.customer_present,
      order: input.order,
    });
  } catch (err) {
    return flow.finish('FAILED', describeFailure(err));
  }
  return flow.finish('COMPLETED');
}
