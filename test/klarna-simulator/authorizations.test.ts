import { describe, expect, it } from 'vitest';
import { authorizedSession, customerTokenBody, expectCorrelationId, expectKlarnaError, sessionBody, useSimulator } from './helpers.js';

// /payments/v1/authorizations/{t}/customer-token, /order, DELETE; GET /customer-token/v1/tokens/{t}.

const c = useSimulator();

const { intent: _intent, ...orderBase } = sessionBody();
const orderBody = (overrides: Record<string, unknown> = {}) => ({ ...orderBase, auto_capture: true, ...overrides });
const tokenPath = (t: string) => `/payments/v1/authorizations/${t}/customer-token`;
const orderPath = (t: string) => `/payments/v1/authorizations/${t}/order`;

describe('POST /payments/v1/authorizations/{t}/customer-token', () => {
  it('200 with token_id, redirect_url, billing_address, customer, payment_method_reference; the token is ACTIVE', async () => {
    const { authorizationToken, sessionId } = await authorizedSession(c);
    const r = await c.klarna('POST', tokenPath(authorizationToken), customerTokenBody({ customer: { date_of_birth: '1980-01-01' } }));
    expect(r.status).toBe(200);
    expectCorrelationId(r);
    expect(r.body).toEqual({
      token_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      redirect_url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/_sim\/redirect\//),
      billing_address: sessionBody().billing_address,
      customer: { date_of_birth: '1980-01-01' },
      payment_method_reference: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    const token = await c.klarna('GET', `/customer-token/v1/tokens/${r.body.token_id}`);
    expect(token.status).toBe(200);
    expectCorrelationId(token);
    expect(token.body).toEqual({
      status: 'ACTIVE',
      payment_method_type: 'CARD',
      card: { brand: 'VISA', expiry_date: '12/30', masked_number: expect.stringMatching(/^\*+\d{4}$/) },
    });
    // A tokenize session is complete once its token exists (no order ever follows).
    expect((await c.klarna('GET', `/payments/v1/sessions/${sessionId}`)).body.status).toBe('complete');
  });

  it('shows direct_debit details for a direct-debit token', async () => {
    const { authorizationToken } = await authorizedSession(c, {}, { payment_method_type: 'DIRECT_DEBIT' });
    const r = await c.klarna('POST', tokenPath(authorizationToken), customerTokenBody());
    const token = await c.klarna('GET', `/customer-token/v1/tokens/${r.body.token_id}`);
    expect(token.body).toEqual({ status: 'ACTIVE', payment_method_type: 'DIRECT_DEBIT', direct_debit: { masked_number: expect.stringMatching(/^\*+\d{4}$/) } });
  });

  it('works for buy_and_tokenize too', async () => {
    const { authorizationToken } = await authorizedSession(c, { intent: 'buy_and_tokenize' });
    expect((await c.klarna('POST', tokenPath(authorizationToken), customerTokenBody())).status).toBe(200);
  });

  it('404 NOT_FOUND "Invalid authorization token" for an unknown token', async () => {
    expectKlarnaError(await c.klarna('POST', tokenPath('unknown'), customerTokenBody()), 404, 'NOT_FOUND', ['Invalid authorization token']);
  });

  it('404 NOT_FOUND "Invalid authorization token" 60 minutes after authorization (simulator clock), not before', async () => {
    const a = await authorizedSession(c);
    const b = await authorizedSession(c);
    await c.control('POST', '/clock/advance', { seconds: 59 * 60 });
    expect((await c.klarna('POST', tokenPath(a.authorizationToken), customerTokenBody())).status).toBe(200);
    await c.control('POST', '/clock/advance', { seconds: 60 });
    expectKlarnaError(await c.klarna('POST', tokenPath(b.authorizationToken), customerTokenBody()), 404, 'NOT_FOUND', ['Invalid authorization token']);
  });

  it('403 INVALID_OPERATION for a session with intent buy', async () => {
    const { authorizationToken } = await authorizedSession(c, { intent: 'buy' });
    expectKlarnaError(await c.klarna('POST', tokenPath(authorizationToken), customerTokenBody()), 403, 'INVALID_OPERATION', [
      'Not allowed to create customer tokens for intent buy.',
    ]);
  });

  it('400 BAD_VALUE "Bad value: purchase_country" when the billing country or purchase country differs from the session', async () => {
    const { authorizationToken } = await authorizedSession(c);
    expectKlarnaError(
      await c.klarna('POST', tokenPath(authorizationToken), customerTokenBody({ billing_address: { country: 'NO' } })),
      400,
      'BAD_VALUE',
      ['Bad value: purchase_country'],
    );
    expectKlarnaError(await c.klarna('POST', tokenPath(authorizationToken), customerTokenBody({ purchase_country: 'DK', purchase_currency: 'DKK' })), 400, 'BAD_VALUE', [
      'Bad value: purchase_country',
    ]);
    // Nothing was consumed by the refused attempts.
    expect((await c.klarna('POST', tokenPath(authorizationToken), customerTokenBody())).status).toBe(200);
  });

  it('400 BAD_REQUEST when the chosen payment method cannot be tokenized in the country', async () => {
    const { authorizationToken } = await authorizedSession(c, {}, { payment_method_type: 'BANK_TRANSFER' });
    expectKlarnaError(await c.klarna('POST', tokenPath(authorizationToken), customerTokenBody()), 400, 'BAD_REQUEST', [
      'BANK_TRANSFER is not valid for creating customer tokens in SE',
    ]);
  });

  it.each(['purchase_country', 'purchase_currency', 'locale', 'description', 'intended_use'])('400 BAD_VALUE when %s is missing', async (field) => {
    const { authorizationToken } = await authorizedSession(c);
    const body: Record<string, unknown> = customerTokenBody();
    delete body[field];
    expectKlarnaError(await c.klarna('POST', tokenPath(authorizationToken), body), 400, 'BAD_VALUE', [`Bad value: ${field}`]);
  });

  it('400 BAD_VALUE for intended_use other than SUBSCRIPTION', async () => {
    const { authorizationToken } = await authorizedSession(c);
    expectKlarnaError(await c.klarna('POST', tokenPath(authorizationToken), customerTokenBody({ intended_use: 'ONE_OFF' })), 400, 'BAD_VALUE', [
      'Bad value: intended_use',
    ]);
  });

  it('one token per authorization: a second call is 403 INVALID_OPERATION "Authorization token already consumed"', async () => {
    const { authorizationToken } = await authorizedSession(c);
    expect((await c.klarna('POST', tokenPath(authorizationToken), customerTokenBody())).status).toBe(200);
    expectKlarnaError(await c.klarna('POST', tokenPath(authorizationToken), customerTokenBody()), 403, 'INVALID_OPERATION', [
      'Authorization token already consumed',
    ]);
  });

  it('once another authorization of the session became an order, this one is 404 for customer-token too', async () => {
    const { sessionId, authorizationToken: first } = await authorizedSession(c, { intent: 'buy_and_tokenize' });
    const second = (await c.control('POST', `/sessions/${sessionId}/authorize`, {})).body.authorization_token;
    const { intent: _i, ...order } = sessionBody();
    expect((await c.klarna('POST', orderPath(second), order)).status).toBe(200);
    expectKlarnaError(await c.klarna('POST', tokenPath(first), customerTokenBody()), 404, 'NOT_FOUND', ['Invalid authorization token']);
    expect((await c.klarna('POST', tokenPath(second), customerTokenBody())).status).toBe(200);
  });

  it('a re-authorized session has a new token, and each authorization can make its own customer token', async () => {
    const { sessionId, authorizationToken: first } = await authorizedSession(c);
    const again = await c.control('POST', `/sessions/${sessionId}/authorize`, {});
    const second: string = again.body.authorization_token;
    expect(second).not.toBe(first);
    const a = await c.klarna('POST', tokenPath(first), customerTokenBody());
    expect(a.status).toBe(200);
    const b = await c.klarna('POST', tokenPath(second), customerTokenBody());
    expect(b.status, JSON.stringify(b.body)).toBe(200);
    expect(b.body.token_id).not.toBe(a.body.token_id);
    // Klarna's records: each authorization made its own token.
    const recorded = (await c.control('GET', `/sessions/${sessionId}`)).body.authorizations;
    expect(recorded.map((r: { authorization_token: string; customer_token_id?: string }) => [r.authorization_token, r.customer_token_id])).toEqual([
      [first, a.body.token_id],
      [second, b.body.token_id],
    ]);
  });
});

describe('GET /customer-token/v1/tokens/{t}', () => {
  it('404 NOT_FOUND for an unknown token', async () => {
    expectKlarnaError(await c.klarna('GET', '/customer-token/v1/tokens/nope'), 404, 'NOT_FOUND');
  });

  it('403 TOKEN_FORBIDDEN for another merchant’s token', async () => {
    const other = await c.control('POST', '/tokens', { merchant: 'someone-else' });
    expectKlarnaError(await c.klarna('GET', `/customer-token/v1/tokens/${other.body.token_id}`), 403, 'TOKEN_FORBIDDEN');
  });
});

describe('POST /payments/v1/authorizations/{t}/order', () => {
  it('200 with order_id, fraud_status, authorized_payment_method; no redirect_url without a confirmation URL', async () => {
    const { authorizationToken, sessionId } = await authorizedSession(c, { intent: 'buy' });
    const r = await c.klarna('POST', orderPath(authorizationToken), orderBody());
    expect(r.status).toBe(200);
    expectCorrelationId(r);
    expect(r.body).toEqual({
      order_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      fraud_status: 'ACCEPTED',
      authorized_payment_method: { type: 'card', number_of_days: 0, number_of_installments: 1 },
    });
    expect((await c.klarna('GET', `/payments/v1/sessions/${sessionId}`)).body.status).toBe('complete');
  });

  it('includes redirect_url when the session had merchant_urls.confirmation; fraud_status PENDING when so authorized', async () => {
    const urls = { merchant_urls: { confirmation: 'https://merchant.example/thanks' } };
    const { authorizationToken } = await authorizedSession(c, { intent: 'buy', ...urls }, { fraud_status: 'PENDING' });
    const r = await c.klarna('POST', orderPath(authorizationToken), orderBody(urls));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ redirect_url: expect.stringContaining('/_sim/redirect/'), fraud_status: 'PENDING' });
  });

  it('buy_and_tokenize: the one authorization makes one order and one customer token, in either order', async () => {
    const a = await authorizedSession(c, { intent: 'buy_and_tokenize' });
    expect((await c.klarna('POST', orderPath(a.authorizationToken), orderBody())).status).toBe(200);
    expect((await c.klarna('POST', tokenPath(a.authorizationToken), customerTokenBody())).status).toBe(200);
    const b = await authorizedSession(c, { intent: 'buy_and_tokenize' });
    expect((await c.klarna('POST', tokenPath(b.authorizationToken), customerTokenBody())).status).toBe(200);
    expect((await c.klarna('POST', orderPath(b.authorizationToken), orderBody())).status).toBe(200);
  });

  it('one order per authorization: 403 INVALID_OPERATION "Authorization token already consumed"', async () => {
    const { authorizationToken } = await authorizedSession(c, { intent: 'buy' });
    expect((await c.klarna('POST', orderPath(authorizationToken), orderBody())).status).toBe(200);
    expectKlarnaError(await c.klarna('POST', orderPath(authorizationToken), orderBody()), 403, 'INVALID_OPERATION', [
      'Authorization token already consumed',
    ]);
  });

  it('only one authorization of a session becomes an order: the others become invalid', async () => {
    const { sessionId, authorizationToken: first } = await authorizedSession(c, { intent: 'buy' });
    const second = (await c.control('POST', `/sessions/${sessionId}/authorize`, {})).body.authorization_token;
    expect((await c.klarna('POST', orderPath(second), orderBody())).status).toBe(200);
    expectKlarnaError(await c.klarna('POST', orderPath(first), orderBody()), 404, 'NOT_FOUND', ['Invalid authorization token']);
  });

  it('409 BAD_VALUE "Not matching fields" when the cart changed after authorization', async () => {
    const { authorizationToken, sessionId } = await authorizedSession(c, { intent: 'buy' });
    const lines = [{ name: 'Coffee subscription, monthly', quantity: 2, unit_price: 19900, total_amount: 39800 }];
    // The merchant updates the session after the shopper authorized, without a new authorization.
    expect((await c.klarna('POST', `/payments/v1/sessions/${sessionId}`, { order_amount: 39800, order_lines: lines })).status).toBe(204);
    const r = await c.klarna('POST', orderPath(authorizationToken), orderBody({ order_amount: 39800, order_lines: lines }));
    expectKlarnaError(r, 409, 'BAD_VALUE', ['Not matching fields: [order_amount, order_lines[0].quantity, order_lines[0].total_amount]']);
  });

  it('409 names a changed billing postal code and a changed number of items', async () => {
    const { authorizationToken } = await authorizedSession(c, { intent: 'buy' });
    const r1 = await c.klarna('POST', orderPath(authorizationToken), orderBody({ billing_address: { ...sessionBody().billing_address, postal_code: '99999' } }));
    expectKlarnaError(r1, 409, 'BAD_VALUE', ['Not matching fields: [billing_address.postal_code]']);
    const lines = [...sessionBody().order_lines, { name: 'Mug', quantity: 1, unit_price: 0, total_amount: 0 }];
    const r2 = await c.klarna('POST', orderPath(authorizationToken), orderBody({ order_lines: lines }));
    expectKlarnaError(r2, 409, 'BAD_VALUE', ['Not matching fields: [Incorrect number of items in the cart. Expected: 1, Actual: 2]']);
    // Refused orders do not consume the authorization.
    expect((await c.klarna('POST', orderPath(authorizationToken), orderBody())).status).toBe(200);
  });

  it('403 REJECTED when Klarna rejected the purchase at authorization', async () => {
    const { authorizationToken } = await authorizedSession(c, { intent: 'buy' }, { fraud_status: 'REJECTED' });
    expectKlarnaError(await c.klarna('POST', orderPath(authorizationToken), orderBody()), 403, 'REJECTED', ['Rejected']);
  });

  it('403 INVALID_OPERATION for a tokenize authorization (a token only, no order)', async () => {
    const { authorizationToken } = await authorizedSession(c, { intent: 'tokenize' });
    expectKlarnaError(await c.klarna('POST', orderPath(authorizationToken), orderBody()), 403, 'INVALID_OPERATION');
  });

  it('404 NOT_FOUND for an unknown or expired authorization; 400 BAD_VALUE for a bad body', async () => {
    expectKlarnaError(await c.klarna('POST', orderPath('nope'), orderBody()), 404, 'NOT_FOUND', ['Invalid authorization token']);
    const { authorizationToken } = await authorizedSession(c, { intent: 'buy' });
    expectKlarnaError(await c.klarna('POST', orderPath(authorizationToken), orderBody({ order_amount: 5 })), 400, 'BAD_VALUE', ['Bad value: order_amount']);
    expectKlarnaError(await c.klarna('POST', orderPath(authorizationToken), orderBody({ purchase_currency: undefined })), 400, 'BAD_VALUE', [
      'Bad value: purchase_currency',
    ]);
    await c.control('POST', '/clock/advance', { seconds: 3600 });
    expectKlarnaError(await c.klarna('POST', orderPath(authorizationToken), orderBody()), 404, 'NOT_FOUND', ['Invalid authorization token']);
  });
});

describe('DELETE /payments/v1/authorizations/{t}', () => {
  it('204 releases an unused authorization; it is then unknown for orders, tokens and another release', async () => {
    const { authorizationToken } = await authorizedSession(c, { intent: 'buy_and_tokenize' });
    const r = await c.klarna('DELETE', `/payments/v1/authorizations/${authorizationToken}`);
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    expectCorrelationId(r);
    expectKlarnaError(await c.klarna('POST', orderPath(authorizationToken), orderBody()), 404, 'NOT_FOUND');
    expectKlarnaError(await c.klarna('POST', tokenPath(authorizationToken), customerTokenBody()), 404, 'NOT_FOUND');
    expectKlarnaError(await c.klarna('DELETE', `/payments/v1/authorizations/${authorizationToken}`), 404, 'NOT_FOUND');
  });

  it('may release after the customer token was made (the token stays); not after an order (403)', async () => {
    const a = await authorizedSession(c, { intent: 'buy_and_tokenize' });
    const token = await c.klarna('POST', tokenPath(a.authorizationToken), customerTokenBody());
    expect((await c.klarna('DELETE', `/payments/v1/authorizations/${a.authorizationToken}`)).status).toBe(204);
    expect((await c.klarna('GET', `/customer-token/v1/tokens/${token.body.token_id}`)).body.status).toBe('ACTIVE');
    const b = await authorizedSession(c, { intent: 'buy' });
    expect((await c.klarna('POST', orderPath(b.authorizationToken), orderBody())).status).toBe(200);
    expectKlarnaError(await c.klarna('DELETE', `/payments/v1/authorizations/${b.authorizationToken}`), 403, 'INVALID_OPERATION', [
      'Authorization token already consumed',
    ]);
  });

  it('404 NOT_FOUND for an unknown or expired authorization', async () => {
    expectKlarnaError(await c.klarna('DELETE', '/payments/v1/authorizations/nope'), 404, 'NOT_FOUND');
    const { authorizationToken } = await authorizedSession(c, { intent: 'buy' });
    await c.control('POST', '/clock/advance', { seconds: 3601 });
    expectKlarnaError(await c.klarna('DELETE', `/payments/v1/authorizations/${authorizationToken}`), 404, 'NOT_FOUND');
  });
});
