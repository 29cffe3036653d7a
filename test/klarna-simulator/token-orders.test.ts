import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authorizedSession, customerToken, expectCorrelationId, expectKlarnaError, sessionBody, tokenOrderBody, useSimulator } from './helpers.js';

// POST /customer-token/v1/tokens/{t}/order (idempotency, every seed-001 error code, step-up of
// seed 000) and PATCH /customer-token/v1/tokens/{t}/status.

const c = useSimulator();

const orderPath = (t: string) => `/customer-token/v1/tokens/${t}/order`;
const charge = (t: string, body: Record<string, unknown> = tokenOrderBody(), key: string | undefined = randomUUID()) =>
  c.klarna('POST', orderPath(t), body, key ? { 'Klarna-Idempotency-Key': key } : {});
const orders = async () => (await c.control('GET', '/orders')).body as { token_id?: string; idempotency_key?: string }[];

describe('POST /customer-token/v1/tokens/{t}/order', () => {
  it('200 {order_id, fraud_status ACCEPTED, authorized_payment_method}', async () => {
    const { tokenId } = await customerToken(c);
    const r = await charge(tokenId);
    expect(r.status).toBe(200);
    expectCorrelationId(r);
    expect(r.body).toEqual({ order_id: expect.stringMatching(/^[0-9a-f-]{36}$/), fraud_status: 'ACCEPTED', authorized_payment_method: { type: 'card' } });
    expect(await orders()).toEqual([expect.objectContaining({ token_id: tokenId, order_id: r.body.order_id })]);
  });

  it('works without Klarna-Idempotency-Key (each call is a new order)', async () => {
    const { tokenId } = await customerToken(c);
    const a = await charge(tokenId, tokenOrderBody(), undefined);
    const b = await charge(tokenId, tokenOrderBody(), undefined);
    expect(a.body.order_id).not.toBe(b.body.order_id);
    expect(await orders()).toHaveLength(2);
  });

  it.each([
    ['order_amount below 1', { order_amount: 0, order_lines: [{ name: 'x', quantity: 1, unit_price: 0, total_amount: 0 }] }, 'Bad value: order_amount'],
    ['order_tax_amount missing', { order_tax_amount: undefined }, 'Bad value: order_tax_amount'],
    ['purchase_currency missing', { purchase_currency: undefined }, 'Bad value: purchase_currency'],
    ['order_lines missing', { order_lines: undefined }, 'Bad value: order_lines'],
    ['order_amount not the sum of lines', { order_amount: 100 }, 'Bad value: order_amount'],
    ['step_up unknown', { step_up: 'MAYBE' }, 'Bad value: step_up'],
  ])('400 BAD_VALUE when %s', async (_what, overrides, message) => {
    const { tokenId } = await customerToken(c);
    const r = await charge(tokenId, tokenOrderBody(overrides));
    expectKlarnaError(r, 400, 'BAD_VALUE');
    expect(r.body.error_messages).toContain(message);
  });
});

describe('Klarna-Idempotency-Key', () => {
  it('a replay within 24 h returns the first answer and places nothing', async () => {
    const { tokenId } = await customerToken(c);
    const key = randomUUID();
    const first = await charge(tokenId, tokenOrderBody(), key);
    // Same body, keys in another order: the same request.
    const { order_lines, ...rest } = tokenOrderBody();
    const replay = await charge(tokenId, { order_lines, ...rest }, key);
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get('x-sim-idempotent-replay')).toBe('true');
    expectCorrelationId(replay);
    await c.control('POST', '/clock/advance', { seconds: 23 * 3600 });
    expect((await charge(tokenId, tokenOrderBody(), key)).body).toEqual(first.body);
    expect(await orders()).toHaveLength(1);
  });

  it('after 24 h the key is forgotten: the same request places a new order', async () => {
    const { tokenId } = await customerToken(c);
    const key = randomUUID();
    const first = await charge(tokenId, tokenOrderBody(), key);
    await c.control('POST', '/clock/advance', { seconds: 24 * 3600 });
    const later = await charge(tokenId, tokenOrderBody(), key);
    expect(later.status).toBe(200);
    expect(later.body.order_id).not.toBe(first.body.order_id);
    expect(await orders()).toHaveLength(2);
  });

  it('the same key with a different body (or another token) → 409 BAD_VALUE, nothing placed', async () => {
    const { tokenId } = await customerToken(c);
    const other = (await c.control('POST', '/tokens', {})).body.token_id;
    const key = randomUUID();
    expect((await charge(tokenId, tokenOrderBody(), key)).status).toBe(200);
    const r = await charge(tokenId, tokenOrderBody({ merchant_reference1: 'different' }), key);
    expectKlarnaError(r, 409, 'BAD_VALUE', ['Klarna-Idempotency-Key was already used with a different request']);
    expectKlarnaError(await charge(other, tokenOrderBody(), key), 409, 'BAD_VALUE');
    expect(await orders()).toHaveLength(1);
  });

  it('a business error is replayed as well (with this response’s correlation id)', async () => {
    const { tokenId } = await customerToken(c);
    await c.control('POST', `/tokens/${tokenId}/status`, { status: 'SUSPENDED' });
    const key = randomUUID();
    const first = await charge(tokenId, tokenOrderBody(), key);
    expectKlarnaError(first, 403, 'TOKEN_SUSPENDED');
    await c.control('POST', `/tokens/${tokenId}/status`, { status: 'ACTIVE' });
    const replay = await charge(tokenId, tokenOrderBody(), key);
    expectKlarnaError(replay, 403, 'TOKEN_SUSPENDED');
    expect(replay.body.correlation_id).not.toBe(first.body.correlation_id);
  });

  it('5xx answers and body validation errors are not stored: a retry with the same key is processed', async () => {
    const { tokenId } = await customerToken(c);
    const key = randomUUID();
    await c.control('POST', `/tokens/${tokenId}/next-order-error`, { error_code: 'SERVICE_UNAVAILABLE' });
    expectKlarnaError(await charge(tokenId, tokenOrderBody(), key), 503, 'SERVICE_UNAVAILABLE');
    expect((await charge(tokenId, tokenOrderBody(), key)).status).toBe(200);

    const key2 = randomUUID();
    expectKlarnaError(await charge(tokenId, tokenOrderBody({ order_amount: 1 }), key2), 400, 'BAD_VALUE');
    expect((await charge(tokenId, tokenOrderBody(), key2)).status).toBe(200);
    expect(await orders()).toHaveLength(2);
  });
});

describe('token-order errors (seed 001), by token state', () => {
  it('404 TOKEN_NOT_FOUND for an unknown token', async () => {
    expectKlarnaError(await charge('no-such-token'), 404, 'TOKEN_NOT_FOUND');
  });

  it('403 TOKEN_SUSPENDED for a token Klarna suspended; charges work again once reactivated', async () => {
    const { tokenId } = await customerToken(c);
    expect((await c.control('POST', `/tokens/${tokenId}/status`, { status: 'SUSPENDED' })).body.status).toBe('SUSPENDED');
    expect((await c.klarna('GET', `/customer-token/v1/tokens/${tokenId}`)).body.status).toBe('SUSPENDED');
    expectKlarnaError(await charge(tokenId), 403, 'TOKEN_SUSPENDED');
    await c.control('POST', `/tokens/${tokenId}/status`, { status: 'ACTIVE' });
    expect((await charge(tokenId)).status).toBe(200);
  });

  it('403 TOKEN_CANCELED for a cancelled token', async () => {
    const { tokenId } = await customerToken(c);
    expect((await c.klarna('PATCH', `/customer-token/v1/tokens/${tokenId}/status`, { status: 'CANCELLED' })).status).toBe(202);
    expectKlarnaError(await charge(tokenId), 403, 'TOKEN_CANCELED');
  });

  it('403 TOKEN_FORBIDDEN for a token linked to another merchant', async () => {
    const other = await c.control('POST', '/tokens', { merchant: 'another-merchant' });
    expectKlarnaError(await charge(other.body.token_id), 403, 'TOKEN_FORBIDDEN');
  });

  it('403 PAYMENT_METHOD_CURRENCY_MISMATCH for a currency other than the token’s', async () => {
    const { tokenId } = await customerToken(c);
    const r = await charge(tokenId, tokenOrderBody({ purchase_currency: 'EUR' }));
    expectKlarnaError(r, 403, 'PAYMENT_METHOD_CURRENCY_MISMATCH');
  });

  it('403 UNAVAILABLE_PAYMENT_METHOD while the stored payment method fails (step_up NOT_SUPPORTED: no step_up_id)', async () => {
    const { tokenId } = await customerToken(c);
    await c.control('POST', `/tokens/${tokenId}/payment-method`, { failing: true });
    const r = await charge(tokenId);
    expectKlarnaError(r, 403, 'UNAVAILABLE_PAYMENT_METHOD');
    expect(r.body.step_up_id).toBeUndefined();
  });
});

describe('token-order errors by scenario: POST /_sim/tokens/{t}/next-order-error', () => {
  it.each([
    ['TOKEN_NOT_FOUND', 404],
    ['TOKEN_SUSPENDED', 403],
    ['TOKEN_CANCELED', 403],
    ['TOKEN_CANCELLED', 403],
    ['TOKEN_FORBIDDEN', 403],
    ['UNAVAILABLE_PAYMENT_METHOD', 403],
    ['PAYMENT_METHOD_CURRENCY_MISMATCH', 403],
    ['PAYMENT_METHOD_FAILED', 403],
    ['REJECTED', 403],
    ['MERCHANT_INACTIVE', 403],
    ['BAD_REQUEST', 400],
    ['INTERNAL_SERVER_ERROR', 500],
    ['SERVICE_UNAVAILABLE', 503],
  ])('%s → %i, once; the next charge succeeds', async (code, status) => {
    const { tokenId } = await customerToken(c);
    const set = await c.control('POST', `/tokens/${tokenId}/next-order-error`, { error_code: code });
    expect(set.body).toEqual({ token_id: tokenId, next_order_errors: [code] });
    expectKlarnaError(await charge(tokenId), status, code);
    expect((await charge(tokenId)).status).toBe(200);
    expect(await orders()).toHaveLength(1);
  });

  it('count queues several failures; an unknown code or token is refused', async () => {
    const { tokenId } = await customerToken(c);
    await c.control('POST', `/tokens/${tokenId}/next-order-error`, { error_code: 'INTERNAL_SERVER_ERROR', count: 2 });
    expect((await charge(tokenId)).status).toBe(500);
    expect((await charge(tokenId)).status).toBe(500);
    expect((await charge(tokenId)).status).toBe(200);
    expectKlarnaError(await c.control('POST', `/tokens/${tokenId}/next-order-error`, { error_code: 'NOPE' }), 400, 'BAD_VALUE');
    expectKlarnaError(await c.control('POST', '/tokens/nope/next-order-error', { error_code: 'REJECTED' }), 404, 'NOT_FOUND');
  });
});

describe('step-up recovery (seed 000)', () => {
  it('step_up SUPPORTED: the rejection carries fraud_status, reason, authorized_payment_method and step_up_id', async () => {
    const { tokenId } = await customerToken(c, { intent: 'buy_and_tokenize' });
    await c.control('POST', `/tokens/${tokenId}/next-order-error`, { error_code: 'UNAVAILABLE_PAYMENT_METHOD' });
    const r = await charge(tokenId, tokenOrderBody({ step_up: 'SUPPORTED' }));
    expectKlarnaError(r, 403, 'UNAVAILABLE_PAYMENT_METHOD', ['Purchase for payment method failed']);
    expect(r.body).toEqual({
      correlation_id: expect.any(String),
      error_code: 'UNAVAILABLE_PAYMENT_METHOD',
      error_messages: ['Purchase for payment method failed'],
      fraud_status: 'REJECTED',
      reason: 'Purchase for payment method failed',
      authorized_payment_method: { type: 'card' },
      step_up_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
  });

  it('the whole recovery: failed charge → step-up session → authorize → order → the token charges again', async () => {
    const { tokenId } = await customerToken(c, { intent: 'buy_and_tokenize' });
    await c.control('POST', `/tokens/${tokenId}/payment-method`, { failing: true });
    const failed = await charge(tokenId, tokenOrderBody({ step_up: 'SUPPORTED' }));
    const stepUpId = failed.body.step_up_id;
    expect(stepUpId).toEqual(expect.any(String));
    // Still failing before the recovery.
    expect((await charge(tokenId)).status).toBe(403);

    const recovery = await authorizedSession(
      c,
      { intent: 'buy_and_tokenize', step_up_id: stepUpId, customer: { customer_token: tokenId }, acquiring_channel: 'ECOMMERCE' },
      { payment_method_type: 'DIRECT_DEBIT' },
    );
    const read = await c.klarna('GET', `/payments/v1/sessions/${recovery.sessionId}`);
    expect(read.body).toMatchObject({ intent: 'buy_and_tokenize', customer: { customer_token: tokenId } });
    const { intent: _i, ...orderBody } = sessionBody({ customer: { customer_token: tokenId } });
    const order = await c.klarna('POST', `/payments/v1/authorizations/${recovery.authorizationToken}/order`, orderBody);
    expect(order.status).toBe(200);

    const token = await c.klarna('GET', `/customer-token/v1/tokens/${tokenId}`);
    expect(token.body).toMatchObject({ status: 'ACTIVE', payment_method_type: 'DIRECT_DEBIT' });
    const again = await charge(tokenId);
    expect(again.status).toBe(200);
    expect(again.body.authorized_payment_method).toEqual({ type: 'direct_debit' });
    // A used step_up_id cannot start another recovery.
    const reused = await c.klarna('POST', '/payments/v1/sessions', sessionBody({ intent: 'buy_and_tokenize', step_up_id: stepUpId, customer: { customer_token: tokenId } }));
    expectKlarnaError(reused, 400, 'BAD_VALUE', ['Bad value: step_up_id']);
  });

  it('a token from a tokenize session recovers the same way: the tokenize step-up session may place the order', async () => {
    const { tokenId } = await customerToken(c, { intent: 'tokenize' });
    await c.control('POST', `/tokens/${tokenId}/payment-method`, { failing: true });
    const stepUpId = (await charge(tokenId, tokenOrderBody({ step_up: 'SUPPORTED' }))).body.step_up_id;
    const recovery = await authorizedSession(c, { intent: 'tokenize', step_up_id: stepUpId, customer: { customer_token: tokenId } }, { payment_method_type: 'INVOICE' });
    const { intent: _i, ...orderBody } = sessionBody({ customer: { customer_token: tokenId } });
    const order = await c.klarna('POST', `/payments/v1/authorizations/${recovery.authorizationToken}/order`, orderBody);
    expect(order.status, JSON.stringify(order.body)).toBe(200);
    expect((await c.klarna('GET', `/customer-token/v1/tokens/${tokenId}`)).body).toEqual({ status: 'ACTIVE', payment_method_type: 'INVOICE' });
    expect((await charge(tokenId)).body.authorized_payment_method).toEqual({ type: 'invoice' });
  });

  it('a step-up session needs a known step_up_id, its customer token, and the original intent', async () => {
    const { tokenId } = await customerToken(c, { intent: 'buy_and_tokenize' });
    await c.control('POST', `/tokens/${tokenId}/next-order-error`, { error_code: 'UNAVAILABLE_PAYMENT_METHOD' });
    const stepUpId = (await charge(tokenId, tokenOrderBody({ step_up: 'SUPPORTED' }))).body.step_up_id;
    const session = (o: Record<string, unknown>) => c.klarna('POST', '/payments/v1/sessions', sessionBody({ intent: 'buy_and_tokenize', ...o }));
    expectKlarnaError(await session({ step_up_id: 'unknown', customer: { customer_token: tokenId } }), 400, 'BAD_VALUE', ['Bad value: step_up_id']);
    expectKlarnaError(await session({ step_up_id: stepUpId, customer: { customer_token: 'other' } }), 400, 'BAD_VALUE', ['Bad value: customer.customer_token']);
    expectKlarnaError(await session({ step_up_id: stepUpId }), 400, 'BAD_VALUE', ['Bad value: customer.customer_token']);
    expectKlarnaError(await session({ step_up_id: stepUpId, intent: 'buy', customer: { customer_token: tokenId } }), 400, 'BAD_VALUE', [
      'Bad value: intent',
    ]);
    expect((await session({ step_up_id: stepUpId, customer: { customer_token: tokenId } })).status).toBe(200);
  });
});

describe('PATCH /customer-token/v1/tokens/{t}/status', () => {
  it('{status: CANCELLED} → 202 with an empty body; the token reads CANCELLED; irreversible', async () => {
    const { tokenId } = await customerToken(c);
    const r = await c.klarna('PATCH', `/customer-token/v1/tokens/${tokenId}/status`, { status: 'CANCELLED' });
    expect(r.status).toBe(202);
    expect(r.text).toBe('');
    expectCorrelationId(r);
    expect((await c.klarna('GET', `/customer-token/v1/tokens/${tokenId}`)).body.status).toBe('CANCELLED');
    expect((await c.klarna('PATCH', `/customer-token/v1/tokens/${tokenId}/status`, { status: 'CANCELLED' })).status).toBe(202);
    expectKlarnaError(await c.klarna('PATCH', `/customer-token/v1/tokens/${tokenId}/status`, { status: 'ACTIVE' }), 400, 'BAD_VALUE', ['Bad value: status']);
    expectKlarnaError(await c.control('POST', `/tokens/${tokenId}/status`, { status: 'ACTIVE' }), 409, 'INVALID_OPERATION');
    expect((await c.klarna('GET', `/customer-token/v1/tokens/${tokenId}`)).body.status).toBe('CANCELLED');
  });

  it('404 NOT_FOUND for an unknown token; 403 TOKEN_FORBIDDEN for another merchant’s; 400 without a body', async () => {
    expectKlarnaError(await c.klarna('PATCH', '/customer-token/v1/tokens/nope/status', { status: 'CANCELLED' }), 404, 'NOT_FOUND');
    const other = await c.control('POST', '/tokens', { merchant: 'another-merchant' });
    expectKlarnaError(await c.klarna('PATCH', `/customer-token/v1/tokens/${other.body.token_id}/status`, { status: 'CANCELLED' }), 403, 'TOKEN_FORBIDDEN');
    expectKlarnaError(await c.klarna('PATCH', '/customer-token/v1/tokens/nope/status'), 400, 'BAD_REQUEST');
  });
});

describe('POST /_sim/tokens', () => {
  it('creates a token directly (defaults: ACTIVE, CARD, SEK) for charge tests that skip the tokenize flow', async () => {
    const r = await c.control('POST', '/tokens', { purchase_currency: 'EUR', purchase_country: 'DE', payment_method_type: 'INVOICE' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ token_id: expect.any(String), status: 'ACTIVE', payment_method_type: 'INVOICE' });
    const charged = await charge(r.body.token_id, tokenOrderBody({ purchase_currency: 'EUR' }));
    expect(charged.body.authorized_payment_method).toEqual({ type: 'invoice' });
    const full = await c.control('GET', `/tokens/${r.body.token_id}`);
    expect(full.body).toMatchObject({ token_id: r.body.token_id, purchase_currency: 'EUR', order_ids: [charged.body.order_id] });
  });
});
