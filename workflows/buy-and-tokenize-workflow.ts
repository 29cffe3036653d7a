import { ApplicationFailure, condition, log, proxyActivities, setHandler, uuid4 } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { CreatedCustomerToken } from '../activities/tokenize-activities.js';
import type { AuthorizationOrder, BuyAndTokenizeInput, BuyAndTokenizeStatus, Compensation } from '../contracts/buy-and-tokenize.js';
import { isTerminalBuyAndTokenizeState } from '../contracts/flow-states.js';
import type { CancellationReason, FlowFailure, VaultedTokenSummary } from '../contracts/flow-status.js';
import { klarnaCall, ownStorage } from './activity-presets.js';
import { authorizationIntake, type Candidate } from './authorization-intake.js';
import {
  buyAndTokenizeCheckoutSessionUpdate,
  buyAndTokenizeStatusQuery,
  cancelBuyAndTokenizeUpdate,
  IDEMPOTENCY_CONFLICT,
  NOT_CANCELLABLE,
  shopperAuthorizedSignal,
} from './definitions.js';
import { describeFailure } from './describe-failure.js';
import { trackFlowStatus } from './flow-status-tracker.js';
import { AUTHORIZATION_LIFETIME_MS } from './tokenize-workflow.js';

const { createPaymentSession } = proxyActivities<Activities>({
  ...klarnaCall,
  // Creating a session has no deadline of its own; give up after a while so the flow ends FAILED.
  scheduleToCloseTimeout: '10m',
});
const { releaseAuthorizations } = proxyActivities<Activities>({ ...klarnaCall, scheduleToCloseTimeout: '2m' });
// Compensation: a token that must not live is cancelled however long Klarna takes, up to a day
// (the lifetime of Klarna's idempotency keys); past that an operator is told (compensation.token).
const { cancelTokenOfFailedPurchase } = proxyActivities<Activities>({ ...klarnaCall, scheduleToCloseTimeout: '24h' });
const { vaultCustomerToken, recordAuthorizationOrder } = proxyActivities<Activities>(ownStorage);

/** Klarna calls made with the authorization: retried until it expires, after which Klarna can only say NOT_FOUND. */
const untilExpiry = (expiresAtMs: number) =>
  proxyActivities<Activities>({ ...klarnaCall, scheduleToCloseTimeout: Math.max(1_000, expiresAtMs - Date.now()) });

const isExpiry = (failure: FlowFailure) => failure.kind === 'authorization_not_found' || failure.kind === 'deadline_exceeded';

/**
 * Buy-and-tokenize saga (`intent: buy_and_tokenize`, seed 001): session → shopper authorization
 * (exactly as tokenize: signal, inbox, per-flow callback secret) → customer token → order, both
 * from the one authorization. Token first, as seed 001 says ("create a customer token before
 * placing the order"), and so that no shopper is charged for a subscription that cannot renew.
 *
 * Outcomes (docs/flows.md, "Buy and tokenize"): COMPLETED (order and token); FAILED or EXPIRED
 * with nothing left behind at Klarna: a refused token releases the authorization, a refused order
 * cancels the token it was made with and releases the authorization (CANCELLING_TOKEN meanwhile);
 * COMPLETED_WITHOUT_TOKEN when the request allowed the order without a token (`require_token:
 * false`); ABANDONED; CANCELLED (while waiting). Each Klarna POST carries an idempotency key made
 * here, so a lost reply or a killed worker never makes a second token or order.
 */
export async function buyAndTokenizeWorkflow(input: BuyAndTokenizeInput): Promise<BuyAndTokenizeStatus> {
  const startedAt = new Date(Date.now()).toISOString();
  const flow = trackFlowStatus<BuyAndTokenizeStatus>(
    {
      flow_id: input.flow_id,
      flow_type: 'buy_and_tokenize',
      state: 'CREATING_SESSION',
      merchant_reference: input.merchant_reference,
      require_token: input.require_token,
      ignored_authorizations: 0,
      rejected_authorizations: 0,
      started_at: startedAt,
      updated_at: startedAt,
    },
    isTerminalBuyAndTokenizeState,
  );
  const { status } = flow;
  const intake = authorizationIntake(flow);

  setHandler(buyAndTokenizeStatusQuery, () => status);
  setHandler(
    buyAndTokenizeCheckoutSessionUpdate,
    async (request) => {
      await condition(() => status.session_id !== undefined || isTerminalBuyAndTokenizeState(status.state));
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
  setHandler(shopperAuthorizedSignal, (signal) => {
    intake.take(signal);
  });

  // Cancel: only while the flow waits. Once Klarna is making the token the outcome is Klarna's.
  let cancelRequest: CancellationReason | undefined;
  const cancellable = () => flow.open && (status.state === 'CREATING_SESSION' || status.state === 'AWAITING_AUTHORIZATION');
  setHandler(
    cancelBuyAndTokenizeUpdate,
    async ({ reason }) => {
      cancelRequest ??= reason;
      await condition(() => isTerminalBuyAndTokenizeState(status.state));
      return status;
    },
    {
      validator: (_request) => {
        if (!cancellable() && cancelRequest === undefined) {
          throw ApplicationFailure.create({ type: NOT_CANCELLABLE, message: `the flow is ${flow.outcome ?? status.state}; it can no longer be cancelled` });
        }
      },
    },
  );

  /** Releases authorizations no order will come from (best effort: they lapse after 60 minutes anyway). */
  const release = (tokens: string[]): Promise<boolean> =>
    tokens.length === 0
      ? Promise.resolve(true)
      : releaseAuthorizations({ flow_id: input.flow_id, authorization_tokens: tokens }).then(
          () => true,
          () => false,
        );

  const finishCancelled = async () => {
    status.cancellation = { reason: cancelRequest!, cancelled_at: new Date(Date.now()).toISOString() };
    await release(intake.drain());
    return flow.finish('CANCELLED');
  };

  /**
   * The purchase failed: undo what this authorization made at Klarna, then end. The token (if one
   * was made) is cancelled; the authorization is released unless it expired or Klarna says it was
   * used (`invalid_operation`: releasing it could undo another's purchase).
   */
  const finishUndone = async (auth: Candidate, failure: FlowFailure, token: VaultedTokenSummary | undefined) => {
    const expired = isExpiry(failure);
    const compensation: Compensation = {};
    status.failure = failure;
    if (token) {
      status.compensation = compensation;
      flow.moveTo('CANCELLING_TOKEN');
      await flow.save();
      try {
        await cancelTokenOfFailedPurchase({ flow_id: input.flow_id, token_ref: token.token_ref, idempotency_key: uuid4() });
        compensation.token = { token_ref: token.token_ref, masked: token.masked, cancelled: true };
      } catch (err) {
        compensation.token = { token_ref: token.token_ref, masked: token.masked, cancelled: false, failure: describeFailure(err) };
        log.warn('the token of a failed purchase could not be cancelled; an operator must', { flowId: input.flow_id, tokenRef: token.token_ref });
      }
    }
    const unused = intake.drain();
    const releasable = expired || failure.kind === 'invalid_operation' ? unused : [auth.authorization_token, ...unused];
    if (releasable.length > 0) {
      status.compensation = compensation;
      compensation.authorization_released = await release(releasable);
    }
    return flow.finish(expired ? 'EXPIRED' : 'FAILED', failure);
  };

  try {
    const session = await createPaymentSession({
      flow_id: input.flow_id,
      intent: 'buy_and_tokenize',
      session: input.session,
      idempotency_key: uuid4(),
    });
    status.session_id = session.session_id;
    status.client_token = session.client_token;
  } catch (err) {
    return flow.finish('FAILED', describeFailure(err));
  }
  if (cancelRequest) return finishCancelled();
  flow.moveTo('AWAITING_AUTHORIZATION');
  await flow.save();

  const abandonAtMs = Date.now() + input.abandonment_timeout_ms;
  /** A checkout authorization Klarna does not know is set aside: the flow waits on for a valid one. */
  const setAside = () => {
    status.rejected_authorizations = (status.rejected_authorizations ?? 0) + 1;
    delete status.authorization;
    delete status.token_failure;
    log.info('checkout authorization unknown to Klarna; waiting for another', { flowId: input.flow_id });
    flow.moveTo('AWAITING_AUTHORIZATION');
  };

  for (;;) {
    const next = await intake.next(abandonAtMs, () => cancelRequest !== undefined);
    if (next === 'abandoned') return flow.finish('ABANDONED');
    if (next === 'interrupted') return finishCancelled();
    const auth = next;
    const expiresAtMs = auth.received_at_ms + AUTHORIZATION_LIFETIME_MS;
    status.authorization = { source: auth.source, received_at: new Date(auth.received_at_ms).toISOString(), expires_at: new Date(expiresAtMs).toISOString() };

    // 1. The customer token (first: no shopper is charged for a subscription that cannot renew).
    flow.moveTo('CREATING_TOKEN');
    let created: CreatedCustomerToken | undefined;
    try {
      created = await untilExpiry(expiresAtMs).createCustomerToken({
        flow_id: input.flow_id,
        authorization_token: auth.authorization_token,
        idempotency_key: uuid4(),
        purchase_country: input.session.purchase_country,
        purchase_currency: input.session.purchase_currency,
        locale: input.session.locale,
        description: input.token_description,
        billing_address: input.session.billing_address,
      });
    } catch (err) {
      const failure = describeFailure(err);
      // The checkout's word is not proof; Klarna's callback (authenticated by the flow's secret) is:
      // NOT_FOUND for it means the authorization expired. Nothing was made at Klarna either way.
      if (failure.kind === 'authorization_not_found' && auth.source === 'checkout') {
        setAside();
        continue;
      }
      if (isExpiry(failure)) return flow.finish('EXPIRED', failure);
      if (input.require_token) return finishUndone(auth, failure, undefined);
      // The merchant sells the purchase without the token (require_token: false).
      status.token_failure = failure;
      log.info('customer token refused; placing the order without it', { flowId: input.flow_id, kind: failure.kind });
    }
    // Klarna made the token: stored at once (retried until it is), as tokenize does.
    const token = created
      ? await vaultCustomerToken({
          flow_id: input.flow_id,
          merchant_reference: input.merchant_reference,
          session_id: status.session_id!,
          purchase_country: input.session.purchase_country,
          purchase_currency: input.session.purchase_currency,
          created,
        })
      : undefined;

    // 2. The order, from the same authorization.
    flow.moveTo('PLACING_ORDER');
    let order: AuthorizationOrder;
    try {
      order = await untilExpiry(expiresAtMs).placeAuthorizationOrder({
        flow_id: input.flow_id,
        authorization_token: auth.authorization_token,
        idempotency_key: uuid4(),
        order: { ...input.session, ...(input.auto_capture !== undefined ? { auto_capture: input.auto_capture } : {}) },
      });
    } catch (err) {
      const failure = describeFailure(err);
      // Only when no token proved the authorization real (the token was refused for another reason).
      if (!token && failure.kind === 'authorization_not_found' && auth.source === 'checkout') {
        setAside();
        continue;
      }
      return finishUndone(auth, failure, token);
    }

    // Klarna placed the order: stored under its order id before the flow shows success.
    await recordAuthorizationOrder({
      flow_id: input.flow_id,
      merchant_reference: input.merchant_reference,
      session_id: status.session_id!,
      ...(token ? { token_ref: token.token_ref } : {}),
      order_amount: input.session.order_amount,
      purchase_currency: input.session.purchase_currency,
      ...(input.auto_capture !== undefined ? { auto_capture: input.auto_capture } : {}),
      order,
    });
    status.order = order;
    if (token) status.customer_token = token;
    // Authorizations still queued will never be used: they count as ignored.
    status.ignored_authorizations += intake.drain().length;
    return flow.finish(token ? 'COMPLETED' : 'COMPLETED_WITHOUT_TOKEN');
  }
}
