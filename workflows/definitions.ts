import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CancellationReason, TokenizeStatus } from '../contracts/flow-status.js';
import type { ShopperAuthorization } from '../contracts/tokenize.js';

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
