import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { TokenizeStatus } from '../contracts/flow-status.js';
import type { ShopperAuthorization } from '../contracts/tokenize.js';

// The one definition of each message the workflows take; the API imports these too.

/** The shopper authorized (checkout submission or Klarna callback); the first one wins. */
export const shopperAuthorizedSignal = defineSignal<[ShopperAuthorization]>('shopperAuthorized');

/** The flow's current state, safe to show (no tokens). */
export const tokenizeStatusQuery = defineQuery<TokenizeStatus>('tokenizeStatus');

/** Resolves once the Klarna session exists (or the flow ended): what the checkout needs at once. */
export const awaitCheckoutSessionUpdate = defineUpdate<TokenizeStatus>('awaitCheckoutSession');
