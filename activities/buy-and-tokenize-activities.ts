import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { AuthorizationOrder } from '../contracts/buy-and-tokenize.js';
import type { KlarnaClient } from '../klarna/client.js';
import { klarnaFailureType } from '../klarna/errors.js';
import type { CreateOrderRequest } from '../klarna/payments-schemas.js';
import type { CustomerTokensRepository } from '../persistence/customer-tokens-repository.js';
import type { OrdersRepository } from '../persistence/orders-repository.js';
import type { TokenVault } from '../persistence/token-vault.js';
import { asTemporalFailure } from './klarna-failures.js';

export interface BuyAndTokenizeActivityDeps {
  klarna: KlarnaClient;
  vault: TokenVault;
  customerTokens: CustomerTokensRepository;
  orders: OrdersRepository;
  now?: () => Date;
}

export interface PlaceAuthorizationOrderInput {
  flow_id: string;
  authorization_token: string;
  /** Made by the workflow: a retry after a lost reply or a killed worker gets the same order back. */
  idempotency_key: string;
  order: CreateOrderRequest;
}

export interface RecordAuthorizationOrderInput {
  flow_id: string;
  merchant_reference: string;
  session_id: string;
  token_ref?: string;
  order_amount: number;
  purchase_currency: string;
  auto_capture?: boolean;
  order: AuthorizationOrder;
}

export interface CancelTokenOfFailedPurchaseInput {
  flow_id: string;
  token_ref: string;
  idempotency_key: string;
}

/** Failure type when the vault has no token under the reference the flow stored (a bug). */
export const VAULTED_TOKEN_MISSING = 'vaulted_token_missing';

/** The buy-and-tokenize flow's own steps; the session, the token and the vault are tokenize's activities. */
export function createBuyAndTokenizeActivities(deps: BuyAndTokenizeActivityDeps) {
  const now = deps.now ?? (() => new Date());
  return {
    /** Places the order from the authorization (Klarna), with the workflow's idempotency key. */
    async placeAuthorizationOrder(input: PlaceAuthorizationOrderInput): Promise<AuthorizationOrder> {
      const { body, correlationId } = await asTemporalFailure(() =>
        deps.klarna.createOrder(input.authorization_token, input.order, input.idempotency_key),
      );
      Context.current().log.info('order placed', { flowId: input.flow_id, orderId: body.order_id, fraudStatus: body.fraud_status });
      return {
        order_id: body.order_id,
        fraud_status: body.fraud_status,
        ...(body.authorized_payment_method ? { authorized_payment_method: { type: body.authorized_payment_method.type } } : {}),
        ...(correlationId ? { klarna_correlation_id: correlationId } : {}),
      };
    },

    /** Stores the order under Klarna's order id; once per order (a retry changes nothing). */
    async recordAuthorizationOrder(input: RecordAuthorizationOrderInput): Promise<void> {
      await deps.orders.save({
        _id: input.order.order_id,
        flow_id: input.flow_id,
        source: 'authorization',
        merchant_reference: input.merchant_reference,
        session_id: input.session_id,
        ...(input.token_ref ? { token_ref: input.token_ref } : {}),
        order_amount: input.order_amount,
        purchase_currency: input.purchase_currency,
        fraud_status: input.order.fraud_status,
        ...(input.order.authorized_payment_method ? { authorized_payment_method: input.order.authorized_payment_method } : {}),
        ...(input.auto_capture !== undefined ? { auto_capture: input.auto_capture } : {}),
        ...(input.order.klarna_correlation_id ? { klarna_correlation_id: input.order.klarna_correlation_id } : {}),
        created_at: now(),
      });
    },

    /**
     * Compensation: cancels at Klarna (irreversibly) the customer token made for a purchase that
     * failed, then marks the vault copy CANCELLED. The token is opened from the vault here and never
     * leaves the activity. Klarna not knowing the token any more counts as done.
     */
    async cancelTokenOfFailedPurchase(input: CancelTokenOfFailedPurchaseInput): Promise<void> {
      const stored = await deps.customerTokens.findByRef(input.token_ref);
      if (!stored) {
        throw ApplicationFailure.create({ type: VAULTED_TOKEN_MISSING, message: `no vaulted token ${input.token_ref}`, nonRetryable: true });
      }
      try {
        await asTemporalFailure(() => deps.klarna.cancelCustomerToken(deps.vault.open(stored.token), input.idempotency_key));
      } catch (err) {
        if (!(err instanceof ApplicationFailure && err.type === klarnaFailureType('token_not_found'))) throw err;
        await deps.customerTokens.markStatus(input.token_ref, 'NOT_FOUND', 'token_not_found', now());
        return;
      }
      await deps.customerTokens.markStatus(input.token_ref, 'CANCELLED', 'purchase_failed', now());
      Context.current().log.info('customer token cancelled: its purchase failed', { flowId: input.flow_id, tokenRef: input.token_ref });
    },
  };
}
