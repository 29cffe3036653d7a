import { ApplicationFailure, condition, proxyActivities, setHandler, uuid4 } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { V2AuthorizeOutcome } from '../activities/v2-activities.js';
import type { FlowFailure } from '../contracts/flow-status.js';
import { isTerminalV2AuthorizeState } from '../contracts/flow-states.js';
import { initialV2AuthorizeStatus } from '../contracts/v2-initial-status.js';
import type { V2AuthorizeInput, V2AuthorizeState, V2AuthorizeStatus, V2PartResult } from '../contracts/v2.js';
import type { V2AuthorizeRequest } from '../klarna/v2-schemas.js';
import { klarnaCall, ownStorage } from './activity-presets.js';
import { IDEMPOTENCY_CONFLICT, v2AuthorizeAnswerUpdate, v2AuthorizeStatusQuery } from './definitions.js';
import { describeFailure } from './describe-failure.js';
import { trackFlowStatus } from './flow-status-tracker.js';
import { paymentRequestFollower } from './v2-payment-request-follower.js';

/** Seed 003: the klarna_network_session_token is valid for 1 hour after the shopper completes. */
export const NETWORK_SESSION_TOKEN_MS = 3_600_000;
/** A finalization may ask for another step-up (e.g. Klarna wants the purchase approved again); at most this many in all. */
export const MAX_STEP_UPS = 3;

const { storeV2CustomerToken } = proxyActivities<Activities>(ownStorage);

type Part = 'payment' | 'token';

/**
 * Klarna v2 Payment Authorize API (seed 002), acquiring-partner path, and the v2 token charge
 * (the same call with Klarna-Customer-Token). One authorize call with `request_customer_token`
 * and/or `request_payment_transaction`; each part's result is handled separately:
 *
 * - APPROVED: the transaction id is kept, the customer token vaulted (with its scopes).
 * - STEP_UP_REQUIRED: the payment request goes to the checkout; the flow follows it (webhook,
 *   inbox, read) and finalizes with the klarna_network_session_token within its hour, asking
 *   only for the parts that stepped up (the approved part of a mismatched answer is kept).
 * - DECLINED: final for that part; the flow never calls again for it (no replay without a change
 *   of context; the API also refuses a new flow with a declined context).
 *
 * Outcome: COMPLETED (every part asked for approved), PARTIALLY_COMPLETED (seed 002's mismatched
 * results: one approved, the other declined or lost; `failure` names the lost part), DECLINED,
 * EXPIRED (payment request or network session token ran out), CANCELLED (the shopper aborted),
 * FAILED (errors; `failure` says which).
 */
export async function v2AuthorizeWorkflow(input: V2AuthorizeInput): Promise<V2AuthorizeStatus> {
  const startedAt = new Date(Date.now()).toISOString();
  const flow = trackFlowStatus<V2AuthorizeStatus>(
    { ...initialV2AuthorizeStatus(input, startedAt), decline_context: input.decline_context },
    isTerminalV2AuthorizeState,
  );
  const { status } = flow;
  const follower = paymentRequestFollower(input.flow_id, () => {
    status.ignored_events += 1;
  });

  setHandler(v2AuthorizeStatusQuery, () => status);
  setHandler(
    v2AuthorizeAnswerUpdate,
    async (request) => {
      // The checkout's answer: the outcome, or where to send the shopper.
      await condition(() => status.state === 'AWAITING_SHOPPER' || isTerminalV2AuthorizeState(status.state));
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

  const parts = (): Part[] => [...(status.payment ? (['payment'] as const) : []), ...(status.customer_token ? (['token'] as const) : [])];
  const partOf = (part: Part) => (part === 'payment' ? status.payment! : status.customer_token!);
  const setPart = (part: Part, result: V2PartResult, reason?: string) => {
    const target = partOf(part);
    target.result = result;
    if (reason) target.reason = reason;
    else delete target.reason;
  };

  const base: V2AuthorizeRequest = {
    currency: input.currency,
    ...(input.supplementary_purchase_data ? { supplementary_purchase_data: input.supplementary_purchase_data } : {}),
    // The reference is the flow id: Klarna's webhooks for the step-up's payment request carry it back.
    ...(input.step_up_allowed
      ? {
          step_up_config: {
            payment_request_reference: input.flow_id,
            ...(input.step_up ? { customer_interaction_config: { method: 'HANDOVER' as const, ...input.step_up } } : {}),
          },
        }
      : {}),
  };
  const requestFor = (wanted: Part[]): V2AuthorizeRequest => ({
    ...base,
    ...(wanted.includes('payment') && input.payment
      ? {
          request_payment_transaction: {
            amount: input.payment.amount,
            ...(input.payment.payment_transaction_reference ? { payment_transaction_reference: input.payment.payment_transaction_reference } : {}),
            ...(input.payment.payment_option_id ? { payment_option_id: input.payment.payment_option_id } : {}),
          },
        }
      : {}),
    ...(wanted.includes('token') && input.token
      ? {
          request_customer_token: {
            scopes: input.token.scopes,
            ...(input.token.customer_token_reference ? { customer_token_reference: input.token.customer_token_reference } : {}),
          },
        }
      : {}),
  });

  /** Takes Klarna's answer for the parts that were asked for in this call. */
  const apply = async (outcome: V2AuthorizeOutcome, asked: Part[], paymentRequestId?: string) => {
    if (asked.includes('payment') && status.payment) {
      const answer = outcome.payment;
      if (!answer) setPart('payment', 'FAILED', 'unexpected_response: no payment_transaction_response');
      else if (answer.result === 'APPROVED' && !answer.payment_transaction_id) setPart('payment', 'FAILED', 'unexpected_response: APPROVED without a payment_transaction');
      else {
        setPart('payment', answer.result, answer.result_reason);
        if (answer.payment_transaction_id) status.payment.payment_transaction_id = answer.payment_transaction_id;
        if (answer.payment_transaction_reference) status.payment.payment_transaction_reference = answer.payment_transaction_reference;
      }
    }
    if (asked.includes('token') && status.customer_token && input.token) {
      const answer = outcome.token;
      if (!answer) setPart('token', 'FAILED', 'unexpected_response: no customer_token_response');
      else if (answer.result === 'APPROVED') {
        if (!answer.token) setPart('token', 'FAILED', 'unexpected_response: APPROVED without a customer_token');
        else {
          // Vaulted before it is shown (stored, then the status names it by token_ref).
          await storeV2CustomerToken({
            flow_id: input.flow_id,
            merchant_reference: input.merchant_reference,
            token: answer.token,
            scopes: input.token.scopes,
            ...(input.token.customer_token_reference ? { customer_token_reference: input.token.customer_token_reference } : {}),
            ...(paymentRequestId ? { payment_request_id: paymentRequestId } : {}),
          });
          setPart('token', 'APPROVED');
          status.customer_token.token_ref = answer.token.token_ref;
          status.customer_token.masked = answer.token.masked;
        }
      } else setPart('token', answer.result);
    }
  };

  let lastFailure: FlowFailure | undefined;

  // 1. The authorize call. A charge's idempotency key is its charge id (as v1's): at most one
  // transaction per charge id, whatever retries. Timeouts, 5xx and 429 are retried until the deadline.
  const { authorizeV2 } = proxyActivities<Activities>({ ...klarnaCall, scheduleToCloseTimeout: input.retry_deadline_ms });
  let outcome: V2AuthorizeOutcome;
  try {
    outcome = await authorizeV2({
      flow_id: input.flow_id,
      request: requestFor(parts()),
      idempotency_key: input.flow_type === 'v2_charge' ? input.flow_id : uuid4(),
      ...(input.interoperability_token ? { interoperability_token: input.interoperability_token } : {}),
      ...(input.charge ? { charge: input.charge } : {}),
    });
  } catch (err) {
    lastFailure = describeFailure(err);
    for (const part of parts()) setPart(part, 'FAILED', lastFailure.kind);
    return end();
  }
  await apply(outcome, parts());

  // 2. Step-ups: the shopper in Klarna's purchase journey, then the finalization.
  for (;;) {
    const pending = parts().filter((part) => partOf(part).result === 'STEP_UP_REQUIRED');
    if (pending.length === 0) break;
    if (!input.step_up_allowed) {
      // A charge without the shopper cannot step up (seed 002: customer_not_present tokens are charged without one).
      for (const part of pending) setPart(part, 'FAILED', 'step_up_not_possible: the shopper is not present');
      break;
    }
    if (!outcome.payment_request || status.step_ups >= MAX_STEP_UPS) {
      for (const part of pending) setPart(part, 'FAILED', outcome.payment_request ? 'too_many_step_ups' : 'unexpected_response: STEP_UP_REQUIRED without a payment_request');
      break;
    }
    status.step_ups += 1;
    status.payment_request = { ...outcome.payment_request };
    status.next_action = 'redirect_to_payment_request';
    flow.moveTo('AWAITING_SHOPPER');
    await flow.save();

    const ending = await follower.follow(status.payment_request, { fallbackReadAfterMs: input.fallback_read_after_ms, onChange: () => flow.save() });
    status.next_action = 'wait';
    if (ending.state !== 'COMPLETED') {
      const result: V2PartResult = ending.state === 'EXPIRED' ? 'EXPIRED' : ending.state === 'CANCELED' ? 'CANCELLED' : 'DECLINED';
      for (const part of pending) setPart(part, result, `payment_request_${ending.state.toLowerCase()}`);
      break;
    }

    // Finalize within the network session token's hour (counted from completion, never from later than now).
    flow.moveTo('FINALIZING');
    await flow.save();
    const completedAtMs = Math.min(Date.parse(ending.completion.completed_at) || Date.now(), Date.now());
    const remainingMs = completedAtMs + NETWORK_SESSION_TOKEN_MS - Date.now();
    if (!ending.completion.network_session_token || remainingMs <= 0) {
      for (const part of pending) setPart(part, 'EXPIRED', ending.completion.network_session_token ? 'network_session_token_expired' : 'unexpected_response: no klarna_network_session_token');
      break;
    }
    const { authorizeV2: finalize } = proxyActivities<Activities>({ ...klarnaCall, scheduleToCloseTimeout: remainingMs });
    try {
      outcome = await finalize({
        flow_id: input.flow_id,
        request: requestFor(pending),
        idempotency_key: uuid4(),
        network_session_token: ending.completion.network_session_token,
        ...(input.interoperability_token ? { interoperability_token: input.interoperability_token } : {}),
      });
    } catch (err) {
      lastFailure = describeFailure(err);
      const expired = lastFailure.kind === 'network_session_token_invalid' || lastFailure.kind === 'deadline_exceeded';
      for (const part of pending) setPart(part, expired ? 'EXPIRED' : 'FAILED', expired ? 'network_session_token_expired' : lastFailure.kind);
      break;
    }
    // The completed payment request already named the token; the finalization confirms it.
    if (outcome.token?.result === 'APPROVED' && !outcome.token.token && ending.completion.customer_token) outcome.token.token = ending.completion.customer_token;
    await apply(outcome, pending, status.payment_request.payment_request_id);
  }
  return end();

  /** The flow's outcome from its parts (module doc); stored before shown. */
  async function end(): Promise<V2AuthorizeStatus> {
    const results = parts().map((part) => partOf(part).result);
    const state: V2AuthorizeState = results.every((r) => r === 'APPROVED')
      ? 'COMPLETED'
      : results.some((r) => r === 'APPROVED')
        ? 'PARTIALLY_COMPLETED'
        : results.includes('DECLINED')
          ? 'DECLINED'
          : results.includes('EXPIRED')
            ? 'EXPIRED'
            : results.includes('CANCELLED')
              ? 'CANCELLED'
              : 'FAILED';
    status.next_action = 'none';
    if (state === 'COMPLETED') return flow.finish(state);
    const lost = parts().find((part) => partOf(part).result !== 'APPROVED')!;
    const { result, reason } = partOf(lost);
    const what = lost === 'payment' ? 'the purchase' : 'the customer token';
    const failure: FlowFailure =
      result === 'FAILED' && lastFailure
        ? { ...lastFailure, message: `${what} failed: ${lastFailure.message}` }
        : { kind: `${lost}_${result.toLowerCase()}`, message: `${what} ended ${result}${reason ? ` (${reason})` : ''}` };
    return flow.finish(state, failure);
  }
}
