import { ApplicationFailure, condition, proxyActivities, setHandler, uuid4 } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { isTerminalV2PaymentRequestState } from '../contracts/flow-states.js';
import type { V2PaymentRequestInput, V2PaymentRequestStatus } from '../contracts/v2.js';
import { klarnaCall, ownStorage } from './activity-presets.js';
import { IDEMPOTENCY_CONFLICT, v2PaymentRequestCreatedUpdate, v2PaymentRequestStatusQuery } from './definitions.js';
import { describeFailure } from './describe-failure.js';
import { trackFlowStatus } from './flow-status-tracker.js';
import { NETWORK_SESSION_TOKEN_MS } from './v2-authorize-workflow.js';
import { paymentRequestFollower } from './v2-payment-request-follower.js';

const { createV2PaymentRequest } = proxyActivities<Activities>({ ...klarnaCall, scheduleToCloseTimeout: '10m' });
const { storeV2CustomerToken, storeV2NetworkSession } = proxyActivities<Activities>(ownStorage);

/**
 * Klarna v2 Payment Request API with tokenization (seed 003, Web SDK partner path): the payment
 * request (with an amount: token with purchase; without: token only), whose id the Web SDK's
 * initiate callback returns; then the flow follows it to its end (signed webhook, inbox, or
 * reading it). COMPLETED: the customer token is vaulted with its scopes and the
 * klarna_network_session_token kept (sealed) for the hand-off to the acquiring partner within its
 * hour. DECLINED, EXPIRED, CANCELLED (Klarna's CANCELED) end it as Klarna said; FAILED: the request
 * could not be made, or a completion came without a token.
 */
export async function v2PaymentRequestWorkflow(input: V2PaymentRequestInput): Promise<V2PaymentRequestStatus> {
  const startedAt = new Date(Date.now()).toISOString();
  const flow = trackFlowStatus<V2PaymentRequestStatus>(
    {
      flow_id: input.flow_id,
      flow_type: 'v2_payment_request',
      state: 'CREATING_REQUEST',
      merchant_reference: input.merchant_reference,
      currency: input.currency,
      ...(input.amount !== undefined ? { amount: input.amount } : {}),
      next_action: 'wait',
      ignored_events: 0,
      started_at: startedAt,
      updated_at: startedAt,
    },
    isTerminalV2PaymentRequestState,
  );
  const { status } = flow;
  const follower = paymentRequestFollower(input.flow_id, () => {
    status.ignored_events += 1;
  });

  setHandler(v2PaymentRequestStatusQuery, () => status);
  setHandler(
    v2PaymentRequestCreatedUpdate,
    async (request) => {
      await condition(() => status.payment_request !== undefined || isTerminalV2PaymentRequestState(status.state));
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

  try {
    status.payment_request = await createV2PaymentRequest({
      flow_id: input.flow_id,
      idempotency_key: uuid4(),
      request: {
        currency: input.currency,
        ...(input.amount !== undefined ? { amount: input.amount } : {}),
        // Klarna's webhooks carry it back: how the API finds this flow.
        payment_request_reference: input.flow_id,
        ...(input.payment_option_id ? { payment_option_id: input.payment_option_id } : {}),
        ...(input.supplementary_purchase_data ? { supplementary_purchase_data: input.supplementary_purchase_data } : {}),
        request_customer_token: {
          scopes: input.token.scopes,
          ...(input.token.customer_token_reference ? { customer_token_reference: input.token.customer_token_reference } : {}),
        },
        ...(input.customer_interaction ? { customer_interaction_config: { method: 'HANDOVER' as const, ...input.customer_interaction } } : {}),
      },
    });
  } catch (err) {
    status.next_action = 'none';
    return flow.finish('FAILED', describeFailure(err));
  }
  status.next_action = 'redirect_to_payment_request';
  flow.moveTo('AWAITING_SHOPPER');
  await flow.save();

  const ending = await follower.follow(status.payment_request, { fallbackReadAfterMs: input.fallback_read_after_ms, onChange: () => flow.save() });
  status.next_action = 'none';
  if (ending.state !== 'COMPLETED') {
    const state = ending.state === 'CANCELED' ? 'CANCELLED' : ending.state;
    return flow.finish(state, { kind: `payment_request_${ending.state.toLowerCase()}`, message: ending.reason ?? `Klarna says the payment request is ${ending.state}` });
  }

  const { completion } = ending;
  const paymentRequestId = status.payment_request.payment_request_id;
  if (completion.network_session_token) {
    const completedAtMs = Math.min(Date.parse(completion.completed_at) || Date.now(), Date.now());
    const expiresAt = new Date(completedAtMs + NETWORK_SESSION_TOKEN_MS).toISOString();
    await storeV2NetworkSession({ flow_id: input.flow_id, payment_request_id: paymentRequestId, token: completion.network_session_token, expires_at: expiresAt });
    status.network_session = { expires_at: expiresAt };
  }
  if (!completion.customer_token) {
    status.customer_token = { result: 'FAILED', scopes: input.token.scopes, reason: 'unexpected_response: no customer_token' };
    return flow.finish('FAILED', { kind: 'unexpected_response', message: 'the payment request completed without a customer token' });
  }
  await storeV2CustomerToken({
    flow_id: input.flow_id,
    merchant_reference: input.merchant_reference,
    token: completion.customer_token,
    scopes: input.token.scopes,
    ...(completion.customer_token_reference ? { customer_token_reference: completion.customer_token_reference } : {}),
    payment_request_id: paymentRequestId,
  });
  status.customer_token = { result: 'APPROVED', scopes: input.token.scopes, token_ref: completion.customer_token.token_ref, masked: completion.customer_token.masked };
  return flow.finish('COMPLETED');
}
