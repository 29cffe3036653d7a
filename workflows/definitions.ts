import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { BuyAndTokenizeStatus } from '../contracts/buy-and-tokenize.js';
import type { ChargeStatus } from '../contracts/charge.js';
import type { CancellationReason, TokenizeStatus } from '../contracts/flow-status.js';
import type { ShopperAuthorization } from '../contracts/tokenize.js';
import type { HppSessionView, StepUpStatus } from '../contracts/step-up.js';
import type { BillingPeriod, CatchUpPolicy, ChangeSubscriptionRequest, SubscriptionStatus } from '../contracts/subscription.js';
import type { V2AuthorizeStatus, V2PaymentRequestEvent, V2PaymentRequestStatus } from '../contracts/v2.js';

// The one definition of each message the workflows take; the API imports these too.

/** The shopper authorized (checkout submission or Klarna callback, via the inbox). */
export const shopperAuthorizedSignal = defineSignal<[ShopperAuthorization]>('shopperAuthorized');

/** The flow's current state, safe to show (no tokens). */
export const tokenizeStatusQuery = defineQuery<TokenizeStatus>('tokenizeStatus');

/** The frozen v1 workflow's update (workflows/legacy/): resolves once the Klarna session exists. */
export const awaitCheckoutSessionUpdate = defineUpdate<TokenizeStatus>('awaitCheckoutSession');

/** Who asks for the checkout session: the start request's digest and this API call's own id. */
export interface CheckoutSessionRequest {
  request_fingerprint: string;
  request_id: string;
}

/**
 * Resolves once the Klarna session exists (or the flow ended): what the checkout needs at once.
 * Sent with the start (update-with-start, one round trip). A `request_fingerprint` other than the
 * flow's own is refused (the idempotency key was reused with another request); `created` says
 * whether this call's start made the flow.
 */
export const checkoutSessionUpdate = defineUpdate<{ status: TokenizeStatus; created: boolean }, [CheckoutSessionRequest]>('checkoutSession');

/** Failure type of a refused update: the idempotency key was reused with another request. */
export const IDEMPOTENCY_CONFLICT = 'idempotency_conflict';

/**
 * Ends a flow that is still waiting (CANCELLED, with the reason) and answers with its final
 * status. Refused (NOT_CANCELLABLE) once the flow is past the point of no return: Klarna is
 * creating the token, or the flow has ended.
 */
export const cancelFlowUpdate = defineUpdate<TokenizeStatus, [{ reason: CancellationReason }]>('cancelFlow');

/** Failure type of a refused cancel. */
export const NOT_CANCELLABLE = 'not_cancellable';

/** A charge's current status (no token, only its `token_ref`). */
export const chargeStatusQuery = defineQuery<ChargeStatus>('chargeStatus');

/**
 * Resolves once the charge has its outcome: sent with the start (update-with-start), so
 * `POST /v1/charges` answers with the outcome in the same call when it settles within the wait.
 * Same fingerprint rule and `created` flag as `checkoutSession`.
 */
export const chargeOutcomeUpdate = defineUpdate<{ status: ChargeStatus; created: boolean }, [CheckoutSessionRequest]>('chargeOutcome');

/** A buy-and-tokenize flow's current status (tokens only by their `token_ref`). */
export const buyAndTokenizeStatusQuery = defineQuery<BuyAndTokenizeStatus>('buyAndTokenizeStatus');

/**
 * `checkoutSession` and `cancelFlow` as the buy-and-tokenize flow answers them: the same names,
 * arguments and rules as tokenize's (above), with that flow's status.
 */
export const buyAndTokenizeCheckoutSessionUpdate = defineUpdate<{ status: BuyAndTokenizeStatus; created: boolean }, [CheckoutSessionRequest]>(
  'checkoutSession',
);
export const cancelBuyAndTokenizeUpdate = defineUpdate<BuyAndTokenizeStatus, [{ reason: CancellationReason }]>('cancelFlow');

/** A subscription's status: state, next billing date, the latest periods with their charges. */
export const subscriptionStatusQuery = defineQuery<SubscriptionStatus>('subscriptionStatus');
/** Stops charging until resumed (periods due meanwhile are skipped unless resume says otherwise). */
export const pauseSubscriptionUpdate = defineUpdate<SubscriptionStatus>('pauseSubscription');
/** ACTIVE again after a pause or a suspension (e.g. after a token refresh). */
export const resumeSubscriptionUpdate = defineUpdate<SubscriptionStatus, [{ catch_up?: CatchUpPolicy }]>('resumeSubscription');
/** A new amount and lines from the next period on. */
export const changeSubscriptionUpdate = defineUpdate<SubscriptionStatus, [ChangeSubscriptionRequest]>('changeSubscription');
/** Ends the subscription (no further charges); optionally cancels the token at Klarna too. */
export const cancelSubscriptionUpdate = defineUpdate<SubscriptionStatus, [{ cancel_token?: boolean }]>('cancelSubscription');
/** Charges the period due now unless it is paid; answers with that period. */
export const chargeNowUpdate = defineUpdate<BillingPeriod, []>('chargeNow');
/** Failure type of a subscription update refused in the subscription's state (409). */
export const SUBSCRIPTION_CONFLICT = 'subscription_conflict';

/** A step-up recovery's status (contracts/step-up.ts; tokens only by their `token_ref`). */
export const stepUpStatusQuery = defineQuery<StepUpStatus>('stepUpStatus');
/**
 * Resolves once the recovery has what the checkout needs (the SDK `client_token` or the HPP
 * `redirect_url`) or has ended; sent with the start (update-with-start). Same fingerprint rule and
 * `created` flag as `checkoutSession`.
 */
export const stepUpSessionUpdate = defineUpdate<{ status: StepUpStatus; created: boolean }, [CheckoutSessionRequest]>('stepUpSession');
/** Klarna's HPP status_update (via the inbox), or nothing but a nudge to read the HPP session. */
export const hppStatusSignal = defineSignal<[HppSessionView]>('hppStatus');
/**
 * Ends a step-up recovery that still waits for the shopper: `shopper_declined` (the widget said
 * `approved: false`) ends it DECLINED, the other reasons CANCELLED; an HPP session is disabled
 * first. Refused (NOT_CANCELLABLE) once the order is being placed or the recovery has ended.
 */
export const cancelStepUpUpdate = defineUpdate<StepUpStatus, [{ reason: CancellationReason }]>('cancelStepUp');

/** A v2 flow's status (v2_authorize and v2_charge; tokens only by their `token_ref`). */
export const v2AuthorizeStatusQuery = defineQuery<V2AuthorizeStatus>('v2AuthorizeStatus');
/**
 * Resolves once the checkout has its answer: the outcome, or the step-up's payment request to
 * send the shopper to. Sent with the start (update-with-start); same fingerprint rule and
 * `created` flag as `checkoutSession`.
 */
export const v2AuthorizeAnswerUpdate = defineUpdate<{ status: V2AuthorizeStatus; created: boolean }, [CheckoutSessionRequest]>('v2AuthorizeAnswer');
/** A payment request flow's status (Web SDK partner path). */
export const v2PaymentRequestStatusQuery = defineQuery<V2PaymentRequestStatus>('v2PaymentRequestStatus');
/** Resolves once the payment request exists (its id for the Web SDK) or the flow ended; sent with the start. */
export const v2PaymentRequestCreatedUpdate = defineUpdate<{ status: V2PaymentRequestStatus; created: boolean }, [CheckoutSessionRequest]>(
  'v2PaymentRequestCreated',
);
/** A payment request state change from Klarna's signed webhook, after the API stored it (no tokens). */
export const v2PaymentRequestEventSignal = defineSignal<[V2PaymentRequestEvent]>('v2PaymentRequestEvent');
