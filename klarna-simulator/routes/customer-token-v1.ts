import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SimulatorDeps } from '../deps.js';
import { KlarnaError, klarnaErrors, tokenOrderError, type TokenOrderErrorCode } from '../errors.js';
import { newId } from '../ids.js';
import type { CustomerTokenRecord } from '../state/store.js';
import { assertCart, createTokenOrderSchema, parseKlarnaBody, updateTokenStatusSchema, type CreateTokenOrderBody } from '../validation.js';
import { authorizedPaymentMethodType } from './payments-v1.js';

// Customer Token API v1 (klarna-api-facts §2, seeds 000/001): read a token, charge it, cancel it.

type Params = FastifyRequest<{ Params: { token: string } }>;

/** What GET /customer-token/v1/tokens/{t} shows for a token. */
export function tokenView(token: CustomerTokenRecord) {
  const details =
    token.payment_method_type === 'CARD'
      ? { card: { brand: 'VISA', expiry_date: '12/30', masked_number: '************1111' } }
      : token.payment_method_type === 'DIRECT_DEBIT'
        ? { direct_debit: { masked_number: '************4321' } }
        : {};
  return { status: token.status, payment_method_type: token.payment_method_type, ...details };
}

/** A token this merchant may use, else NOT_FOUND (unknown) or TOKEN_FORBIDDEN (another merchant's). */
function ownToken(deps: SimulatorDeps, tokenId: string): CustomerTokenRecord {
  const token = deps.store.tokens.get(tokenId);
  if (!token) throw klarnaErrors.tokenNotFound();
  if (token.merchant !== deps.merchant) throw tokenOrderError('TOKEN_FORBIDDEN');
  return token;
}

export function registerCustomerTokenV1Routes(app: FastifyInstance, deps: SimulatorDeps): void {
  const { store } = deps;

  app.get('/customer-token/v1/tokens/:token', async (request: Params) => tokenView(ownToken(deps, request.params.token)));

  app.patch('/customer-token/v1/tokens/:token/status', async (request: Params, reply) => {
    parseKlarnaBody(updateTokenStatusSchema, request.body);
    const token = ownToken(deps, request.params.token);
    // Irreversible; cancelling a cancelled token is accepted again (assumption).
    token.status = 'CANCELLED';
    return reply.code(202).send();
  });

  // Klarna-Idempotency-Key is handled for every Klarna POST/PATCH by ../idempotency.ts.
  app.post('/customer-token/v1/tokens/:token/order', async (request: Params) => {
    const body = parseKlarnaBody(createTokenOrderSchema, request.body);
    assertCart(body);
    return placeTokenOrder(deps, request.params.token, body, request.headers['klarna-idempotency-key']);
  });

  function placeTokenOrder(deps: SimulatorDeps, tokenId: string, body: CreateTokenOrderBody, idempotencyKey: unknown): Record<string, unknown> {
    const token = store.tokens.get(tokenId);
    if (!token) throw tokenOrderError('TOKEN_NOT_FOUND');
    if (token.merchant !== deps.merchant) throw tokenOrderError('TOKEN_FORBIDDEN');
    const scripted = token.next_order_errors.shift() as TokenOrderErrorCode | undefined;
    if (scripted === 'UNAVAILABLE_PAYMENT_METHOD') throw unavailable(token, body);
    if (scripted) throw tokenOrderError(scripted);
    if (token.status === 'SUSPENDED') throw tokenOrderError('TOKEN_SUSPENDED');
    if (token.status === 'CANCELLED') throw tokenOrderError('TOKEN_CANCELED');
    if (body.purchase_currency !== token.purchase_currency) throw tokenOrderError('PAYMENT_METHOD_CURRENCY_MISMATCH');
    if (token.payment_method_failing) throw unavailable(token, body);

    const orderId = newId();
    const response = {
      order_id: orderId,
      fraud_status: 'ACCEPTED',
      authorized_payment_method: { type: authorizedPaymentMethodType(token.payment_method_type) },
    };
    token.order_ids.push(orderId);
    store.orders.set(orderId, {
      order_id: orderId,
      source: 'customer_token',
      token_id: tokenId,
      ...(typeof idempotencyKey === 'string' ? { idempotency_key: idempotencyKey } : {}),
      created_at: store.clock.nowMs(),
      fraud_status: 'ACCEPTED',
      order_amount: body.order_amount,
      purchase_currency: body.purchase_currency,
      body,
      response,
    });
    return response;
  }

  /**
   * UNAVAILABLE_PAYMENT_METHOD; with `step_up: SUPPORTED` it is seed 000's step-up rejection,
   * carrying a step_up_id for a recovery session.
   */
  function unavailable(token: CustomerTokenRecord, body: CreateTokenOrderBody): KlarnaError {
    if (body.step_up !== 'SUPPORTED') return tokenOrderError('UNAVAILABLE_PAYMENT_METHOD');
    const stepUpId = newId();
    store.stepUps.set(stepUpId, { step_up_id: stepUpId, token_id: token.token_id, created_at: store.clock.nowMs(), order_request: body });
    return tokenOrderError('UNAVAILABLE_PAYMENT_METHOD', {
      fraud_status: 'REJECTED',
      reason: 'Purchase for payment method failed',
      authorized_payment_method: { type: authorizedPaymentMethodType(token.payment_method_type) },
      step_up_id: stepUpId,
    });
  }
}
