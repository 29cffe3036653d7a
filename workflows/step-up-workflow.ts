import { ApplicationFailure, condition, log, proxyActivities, setHandler, uuid4 } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { CancellationReason, FlowFailure } from '../contracts/flow-status.js';
import { isTerminalStepUpState, retryableHppStatuses } from '../contracts/flow-states.js';
import type { HppSessionView, StepUpInput, StepUpOrder, StepUpState, StepUpStatus } from '../contracts/step-up.js';
import { klarnaCall } from './activity-presets.js';
import { authorizationIntake } from './authorization-intake.js';
import {
  cancelStepUpUpdate,
  hppStatusSignal,
  IDEMPOTENCY_CONFLICT,
  NOT_CANCELLABLE,
  shopperAuthorizedSignal,
  stepUpSessionUpdate,
  stepUpStatusQuery,
} from './definitions.js';
import { describeFailure } from './describe-failure.js';
import { trackFlowStatus } from './flow-status-tracker.js';
import { AUTHORIZATION_LIFETIME_MS } from './tokenize-workflow.js';

/** The HPP session is read while the shopper is away: first after 15 s, doubling to every 5 minutes. */
export const HPP_POLL_FIRST_MS = 15_000;
export const HPP_POLL_MAX_MS = 5 * 60_000;

const { createStepUpSession, createStepUpHppSession } = proxyActivities<Activities>({ ...klarnaCall, scheduleToCloseTimeout: '10m' });
const { readStepUpHppSession, disableStepUpHppSession } = proxyActivities<Activities>({ ...klarnaCall, scheduleToCloseTimeout: '2m' });
const { recordPaymentMethodChanged } = proxyActivities<Activities>({
  startToCloseTimeout: '15s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
});

/**
 * Step-up recovery (seed 000), started by the API for a charge Klarna refused with a `step_up_id`
 * while the shopper was present: a new Klarna Payments session with the charge's order, the
 * `step_up_id` and the customer token; the shopper authorizes in the JS SDK widget or on the Hosted
 * Payment Page; the order is placed from that authorization (or by the HPP); the stored token is
 * marked as having a new payment method. Terminal states: COMPLETED (with `order`), DECLINED
 * (Klarna refused, or the shopper's last attempt was declined when time ran out), CANCELLED (the
 * shopper cancelled on the HPP), ABANDONED (shopper timeout), EXPIRED (authorization or HPP
 * session expired), FAILED (anything else, e.g. the HPP session disabled; `failure` says why).
 */
export async function stepUpRecoveryWorkflow(input: StepUpInput): Promise<StepUpStatus> {
  const startedAt = new Date(Date.now()).toISOString();
  const flow = trackFlowStatus<StepUpStatus>(
    {
      flow_id: input.flow_id,
      flow_type: 'step_up',
      state: 'CREATING_SESSION',
      merchant_reference: input.merchant_reference,
      charge_id: input.charge_id,
      token_ref: input.token_ref,
      integration: input.integration,
      next_action: 'wait',
      ignored_authorizations: 0,
      ignored_status_updates: 0,
      started_at: startedAt,
      updated_at: startedAt,
    },
    isTerminalStepUpState,
  );
  const { status } = flow;
  const intake = authorizationIntake(flow);
  const hppUpdates: HppSessionView[] = [];
  const seenEvents = new Set<string>();

  setHandler(stepUpStatusQuery, () => status);
  setHandler(
    stepUpSessionUpdate,
    async (request) => {
      await condition(() => status.client_token !== undefined || status.hpp !== undefined || isTerminalStepUpState(status.state));
      return { status, created: request.request_id === input.start_request_id };
    },
    {
      validator: (request) => {
        if (input.request_fingerprint && request.request_fingerprint !== input.request_fingerprint) {
          throw ApplicationFailure.create({ type: IDEMPOTENCY_CONFLICT, message: 'this charge already has a step-up recovery with other settings' });
        }
      },
    },
  );
  setHandler(shopperAuthorizedSignal, (auth) => {
    // Only the SDK path takes authorizations this way; the HPP path learns of them from the HPP session.
    if (input.integration === 'sdk') intake.take(auth);
    else status.ignored_authorizations += 1;
  });
  setHandler(hppStatusSignal, (update) => {
    const duplicate = update.event_id !== undefined && seenEvents.has(update.event_id);
    if (!flow.open || duplicate || (status.hpp && update.session_id !== status.hpp.session_id)) {
      status.ignored_status_updates += 1;
      log.info('HPP status update ignored', { flowId: input.flow_id, status: update.status, reason: duplicate ? 'duplicate' : (flow.outcome ?? status.state) });
      return;
    }
    if (update.event_id) seenEvents.add(update.event_id);
    hppUpdates.push(update);
  });

  const fail = (state: StepUpState, failure?: FlowFailure) => {
    status.next_action = 'none';
    return flow.finish(state, failure);
  };

  // The checkout ends a waiting recovery (the widget said approved: false, or the shopper left).
  let cancelRequest: CancellationReason | undefined;
  setHandler(
    cancelStepUpUpdate,
    async ({ reason }) => {
      cancelRequest ??= reason;
      await condition(() => isTerminalStepUpState(status.state));
      return status;
    },
    {
      validator: (_request) => {
        const waiting = flow.open && (status.state === 'CREATING_SESSION' || status.state === 'AWAITING_SHOPPER');
        if (!waiting && cancelRequest === undefined) {
          throw ApplicationFailure.create({ type: NOT_CANCELLABLE, message: `the recovery is ${flow.outcome ?? status.state}; it can no longer be cancelled` });
        }
      },
    },
  );
  const finishCancelled = () => {
    status.cancellation = { reason: cancelRequest!, cancelled_at: new Date(Date.now()).toISOString() };
    const declined = cancelRequest === 'shopper_declined';
    return fail(declined ? 'DECLINED' : 'CANCELLED', { kind: cancelRequest!, message: declined ? 'the shopper was declined in the widget' : 'the recovery was cancelled before the shopper finished' });
  };

  // 1. The recovery session (and, for the HPP path, its hosted page).
  try {
    const session = await createStepUpSession({
      flow_id: input.flow_id,
      token_ref: input.token_ref,
      step_up_id: input.step_up_id,
      order: input.order,
      idempotency_key: uuid4(),
      authorization_callback: input.integration === 'sdk',
    });
    status.session_id = session.session_id;
    if (input.integration === 'sdk') {
      status.client_token = session.client_token;
      status.next_action = 'authorize_in_widget';
    } else {
      const mode = input.hpp?.place_order_mode ?? 'NONE';
      const hpp = await createStepUpHppSession({
        flow_id: input.flow_id,
        session_id: session.session_id,
        place_order_mode: mode,
        merchant_urls: input.hpp?.merchant_urls ?? {},
        idempotency_key: uuid4(),
      });
      status.hpp = { session_id: hpp.session_id, redirect_url: hpp.redirect_url, place_order_mode: mode, status: 'WAITING', failed_attempts: 0, ...(hpp.expires_at ? { expires_at: hpp.expires_at } : {}) };
      status.next_action = 'redirect_to_hpp';
    }
  } catch (err) {
    return fail('FAILED', describeFailure(err));
  }
  if (cancelRequest) return finishCancelled();
  flow.moveTo('AWAITING_SHOPPER');
  await flow.save();
  const abandonAtMs = Date.now() + input.shopper_timeout_ms;

  /** Places the charge's order from an authorization, within its 60 minutes; undefined when the shopper may try again. */
  const placeOrder = async (authorizationToken: string, source: 'checkout' | 'klarna_callback' | 'hpp', receivedAtMs: number): Promise<StepUpStatus | undefined> => {
    const expiresAtMs = receivedAtMs + AUTHORIZATION_LIFETIME_MS;
    status.authorization = { source, received_at: new Date(receivedAtMs).toISOString(), expires_at: new Date(expiresAtMs).toISOString() };
    status.next_action = 'wait';
    flow.moveTo('PLACING_ORDER');
    const { placeStepUpOrder } = proxyActivities<Activities>({ ...klarnaCall, scheduleToCloseTimeout: Math.max(1_000, expiresAtMs - Date.now()) });
    try {
      return await complete(
        await placeStepUpOrder({ flow_id: input.flow_id, token_ref: input.token_ref, authorization_token: authorizationToken, order: input.order, idempotency_key: uuid4() }),
      );
    } catch (err) {
      const failure = describeFailure(err);
      // The checkout's word is not proof (as in tokenize): an authorization Klarna does not know is set aside.
      if (failure.kind === 'authorization_not_found' && source === 'checkout') {
        delete status.authorization;
        status.next_action = 'authorize_in_widget';
        flow.moveTo('AWAITING_SHOPPER');
        return undefined;
      }
      if (failure.kind === 'authorization_not_found' || failure.kind === 'deadline_exceeded') {
        return fail('EXPIRED', { ...failure, kind: 'authorization_expired', message: `the authorization expired before the order was placed: ${failure.message}` });
      }
      return fail(failure.kind === 'rejected' ? 'DECLINED' : 'FAILED', failure);
    }
  };

  async function complete(order: StepUpOrder): Promise<StepUpStatus> {
    status.order = order;
    await recordPaymentMethodChanged({ token_ref: input.token_ref });
    status.next_action = 'none';
    return flow.finish('COMPLETED');
  }

  // 2a. SDK: the authorization comes from the checkout or Klarna's callback (the inbox), as in tokenize.
  if (input.integration === 'sdk') {
    for (;;) {
      const next = await intake.next(abandonAtMs, () => cancelRequest !== undefined);
      if (next === 'interrupted') {
        // Authorizations taken and never used are left to expire (Klarna: 60 minutes).
        return finishCancelled();
      }
      if (next === 'abandoned') return fail('ABANDONED', { kind: 'shopper_timeout', message: 'the shopper did not authorize in time' });
      const done = await placeOrder(next.authorization_token, next.source, next.received_at_ms);
      if (done) return done;
    }
  }

  // 2b. HPP: status_update callbacks, with reads of the HPP session on a back-off timer as the fallback.
  const hpp = status.hpp!;
  const hppExpiresAtMs = hpp.expires_at ? Date.parse(hpp.expires_at) : Number.POSITIVE_INFINITY;
  let lastUpdatedAt = '';
  let pollMs = HPP_POLL_FIRST_MS;

  /** Applies one view of the HPP session; the recovery's outcome when it is final. */
  const apply = async (view: HppSessionView, confirmed: boolean): Promise<StepUpStatus | undefined> => {
    if (view.updated_at && lastUpdatedAt && view.updated_at < lastUpdatedAt) {
      status.ignored_status_updates += 1; // older than what the flow already knows (out of order)
      return undefined;
    }
    if (['COMPLETED', 'CANCELLED', 'DISABLED'].includes(view.status) && !confirmed) {
      // A final status is taken from Klarna itself, not from the callback's body.
      const confirmedView = await readStepUpHppSession({ hpp_session_id: hpp.session_id });
      if (confirmedView.status !== view.status) status.ignored_status_updates += 1;
      return apply(confirmedView, true);
    }
    if (view.updated_at) lastUpdatedAt = view.updated_at;
    const changed = hpp.status !== view.status;
    hpp.status = view.status;
    if (changed && retryableHppStatuses.includes(view.status)) hpp.failed_attempts += 1;
    switch (view.status) {
      case 'COMPLETED':
        if (hpp.place_order_mode === 'NONE') {
          if (!view.authorization_token) return fail('FAILED', { kind: 'unexpected_response', message: 'HPP COMPLETED without an authorization_token' });
          return (await placeOrder(view.authorization_token, 'hpp', Date.now())) ?? fail('FAILED', { kind: 'unexpected_response', message: 'HPP authorization refused' });
        }
        if (!view.order_id) return fail('FAILED', { kind: 'unexpected_response', message: 'HPP COMPLETED without an order_id' });
        return complete({ order_id: view.order_id, placed_by: 'hpp', ...(view.klarna_reference ? { klarna_reference: view.klarna_reference } : {}) });
      case 'CANCELLED':
        return fail('CANCELLED', { kind: 'shopper_cancelled', message: 'the shopper cancelled on the Hosted Payment Page' });
      case 'DISABLED':
        return fail('FAILED', { kind: 'hpp_disabled', message: 'the HPP session was disabled' });
      default:
        if (changed) await flow.save();
        return undefined;
    }
  };

  for (;;) {
    const deadline = Math.min(abandonAtMs, hppExpiresAtMs);
    const remaining = deadline - Date.now();
    if (remaining > 0 && (await condition(() => hppUpdates.length > 0 || cancelRequest !== undefined, Math.min(pollMs, remaining)))) {
      if (cancelRequest) {
        // Stop the page first; a shopper who finished meanwhile still gets the recovery.
        await disableStepUpHppSession({ hpp_session_id: hpp.session_id }).catch(() => undefined);
        const last = await readStepUpHppSession({ hpp_session_id: hpp.session_id }).catch(() => undefined);
        if (last?.status === 'COMPLETED') return (await apply(last, true))!;
        return finishCancelled();
      }
      for (const update of hppUpdates.splice(0)) {
        const done = await apply(update, false);
        if (done) return done;
      }
      continue;
    }
    // Nothing came: read the HPP session (a lost or late status_update), then decide on the timers.
    let view: HppSessionView | undefined;
    try {
      view = await readStepUpHppSession({ hpp_session_id: hpp.session_id });
    } catch (err) {
      const failure = describeFailure(err);
      if (failure.kind === 'not_found') return fail('EXPIRED', { ...failure, kind: 'hpp_session_expired', message: 'the HPP session expired' });
      log.warn('HPP session read failed; trying again later', { flowId: input.flow_id, kind: failure.kind });
    }
    if (view) {
      const done = await apply(view, true);
      if (done) return done;
    }
    pollMs = Math.min(pollMs * 2, HPP_POLL_MAX_MS);
    if (Date.now() >= hppExpiresAtMs) return fail('EXPIRED', { kind: 'hpp_session_expired', message: 'the HPP session expired' });
    if (Date.now() >= abandonAtMs) {
      // Stop the page so the shopper cannot pay after we gave up (best effort), then look once more.
      await disableStepUpHppSession({ hpp_session_id: hpp.session_id }).catch(() => undefined);
      const last = await readStepUpHppSession({ hpp_session_id: hpp.session_id }).catch(() => undefined);
      if (last?.status === 'COMPLETED') return (await apply(last, true))!;
      const declined = hpp.status === 'FAILED';
      return fail(declined ? 'DECLINED' : 'ABANDONED', {
        kind: 'shopper_timeout',
        message: declined ? "the shopper's last attempt was declined and no other came in time" : 'the shopper did not finish on the HPP in time',
      });
    }
  }
}
