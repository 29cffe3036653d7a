import { describe, expect, it } from 'vitest';
import { buildKlarnaSimulator } from '../../klarna-simulator/server.js';
import { authorizedSession, basicAuth, credentials, customerTokenBody, expectKlarnaError, sessionBody, useSimulator } from './helpers.js';

// Klarna's strictness that applies across paths: markets and currencies, tax arithmetic, the order
// of checks (credentials before the body), content types, unexpected errors.

const c = useSimulator();

const createSession = (overrides: Record<string, unknown>) => c.klarna('POST', '/payments/v1/sessions', sessionBody(overrides));

describe('markets and currencies', () => {
  it('400 "Bad value: purchase_country" for a real country where Klarna does not operate', async () => {
    expectKlarnaError(await createSession({ purchase_country: 'BR', purchase_currency: 'BRL' }), 400, 'BAD_VALUE', ['Bad value: purchase_country']);
  });

  it('400 "Bad value: purchase_currency" for a currency that is not the market’s (SE is SEK, DE is EUR)', async () => {
    expectKlarnaError(await createSession({ purchase_currency: 'EUR' }), 400, 'BAD_VALUE', ['Bad value: purchase_currency']);
    expect((await createSession({ purchase_country: 'DE', purchase_currency: 'EUR', locale: 'de-DE', billing_address: { country: 'DE' } })).status).toBe(200);
    expect((await createSession({ purchase_country: 'US', purchase_currency: 'USD', locale: 'en-US', billing_address: { country: 'US' } })).status).toBe(200);
  });

  it('the same rule on session update (merged session), order and customer-token creation', async () => {
    const created = await createSession({ intent: 'buy_and_tokenize' });
    expectKlarnaError(await c.klarna('POST', `/payments/v1/sessions/${created.body.session_id}`, { purchase_currency: 'NOK' }), 400, 'BAD_VALUE', [
      'Bad value: purchase_currency',
    ]);
    const { authorizationToken } = await authorizedSession(c, { intent: 'buy_and_tokenize' });
    const { intent: _i, ...order } = sessionBody();
    expectKlarnaError(await c.klarna('POST', `/payments/v1/authorizations/${authorizationToken}/order`, { ...order, purchase_currency: 'EUR' }), 400, 'BAD_VALUE', [
      'Bad value: purchase_currency',
    ]);
    expectKlarnaError(
      await c.klarna('POST', `/payments/v1/authorizations/${authorizationToken}/customer-token`, customerTokenBody({ purchase_currency: 'EUR' })),
      400,
      'BAD_VALUE',
      ['Bad value: purchase_currency'],
    );
  });
});

describe('tax (Klarna tax-handling rules)', () => {
  const line = (o: Record<string, unknown>) => ({ name: 'Battery Power Pack', quantity: 1, unit_price: 59500, total_amount: 59500, tax_rate: 2000, ...o });

  it('accepts the guide’s example: two lines at 20 %, order tax the sum', async () => {
    const r = await createSession({
      order_amount: 62400,
      order_tax_amount: 10400,
      order_lines: [line({ total_tax_amount: 9917 }), line({ name: 'Shipping', type: 'shipping_fee', unit_price: 2900, total_amount: 2900, total_tax_amount: 483 })],
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  });

  it('a line whose tax implies a rate more than 1 percentage point off tax_rate → "Bad value: order_lines[i].total_tax_amount"', async () => {
    // 59500 at 20 %: tax 9917. 10400 implies 21.2 % (off by 1.2 points); 10000 implies 20.2 % (within 1).
    expectKlarnaError(await createSession({ order_amount: 59500, order_tax_amount: 10400, order_lines: [line({ total_tax_amount: 10400 })] }), 400, 'BAD_VALUE', [
      'Bad value: order_lines[0].total_tax_amount',
    ]);
    expect((await createSession({ order_amount: 59500, order_tax_amount: 10000, order_lines: [line({ total_tax_amount: 10000 })] })).status).toBe(200);
  });

  it('order_tax_amount may differ from the sum of line taxes by at most the number of lines', async () => {
    const lines = [line({ total_tax_amount: 9917 }), line({ name: 'Shipping', unit_price: 2900, total_amount: 2900, total_tax_amount: 483 })];
    expect((await createSession({ order_amount: 62400, order_tax_amount: 10402, order_lines: lines })).status).toBe(200);
    expectKlarnaError(await createSession({ order_amount: 62400, order_tax_amount: 10403, order_lines: lines }), 400, 'BAD_VALUE', ['Bad value: order_tax_amount']);
  });

  it('the US way (a separate sales_tax line, no tax_rate) is accepted', async () => {
    const r = await createSession({
      purchase_country: 'US',
      purchase_currency: 'USD',
      locale: 'en-US',
      billing_address: { country: 'US' },
      order_amount: 21000,
      order_tax_amount: 1000,
      order_lines: [
        { type: 'physical', name: 'Battery Power Pack', quantity: 1, unit_price: 20000, total_amount: 20000 },
        { type: 'sales_tax', name: 'Sales Tax', quantity: 1, unit_price: 1000, total_amount: 1000 },
      ],
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  });
});

describe('order of checks, content types, unexpected errors', () => {
  it('credentials are checked before the body is parsed: bad JSON without credentials is 401, with them 400', async () => {
    const unauth = await c.raw('POST', '/payments/v1/sessions', '{nope', { 'content-type': 'application/json' }, null);
    expectKlarnaError(unauth, 401, 'UNAUTHORIZED');
    expect(unauth.headers.get('www-authenticate')).toBe('Basic realm="Klarna API"');
    expectKlarnaError(await c.klarna('POST', '/payments/v1/sessions', '{nope', { 'content-type': 'application/json' }), 400, 'BAD_REQUEST');
  });

  it('a known path with a method Klarna does not have is 404 NOT_FOUND in Klarna’s shape', async () => {
    expectKlarnaError(await c.klarna('PUT', '/payments/v1/sessions', sessionBody()), 404, 'NOT_FOUND', ['No such resource: PUT /payments/v1/sessions']);
    expectKlarnaError(await c.klarna('DELETE', '/customer-token/v1/tokens/x'), 404, 'NOT_FOUND');
  });

  it('a form-encoded body on a Klarna path is 415 (forms are only for the /_sim shopper pages)', async () => {
    const r = await c.klarna('POST', '/payments/v1/sessions', 'purchase_country=SE', { 'content-type': 'application/x-www-form-urlencoded' });
    expectKlarnaError(r, 415, 'BAD_REQUEST', ['Content-Type must be application/json']);
  });

  it.each([
    ['merchant_data over 6000 characters', { merchant_data: 'x'.repeat(6001) }, 'Bad value: merchant_data'],
    ['merchant_reference2 over 255 characters', { merchant_reference2: 'x'.repeat(256) }, 'Bad value: merchant_reference2'],
    ['a line quantity below 0', { order_lines: [{ name: 'x', quantity: -1, unit_price: 19900, total_amount: -19900 }], order_amount: -19900 }, 'Bad value: order_lines[0].quantity'],
    ['acquiring_channel unknown', { acquiring_channel: 'PHONE' }, 'Bad value: acquiring_channel'],
    ['subscription interval unknown', { order_lines: [{ name: 'x', quantity: 1, unit_price: 19900, total_amount: 19900, subscription: { name: 'S', interval: 'FORTNIGHT', interval_count: 1 } }] }, 'Bad value: order_lines[0].subscription.interval'],
  ])('400 BAD_VALUE naming the field: %s', async (_what, overrides, message) => {
    const r = await createSession(overrides);
    expectKlarnaError(r, 400, 'BAD_VALUE');
    expect(r.body.error_messages).toContain(message);
  });

  it('an unexpected error inside the simulator is a Klarna-shaped 500 with the correlation id', async () => {
    const app = await buildKlarnaSimulator({ ...credentials, controls: false });
    // A route that fails like a bug would: the error handler must still answer in Klarna's shape.
    app.get('/payments/v1/broken', async () => {
      throw new Error('boom');
    });
    const r = await app.inject({ method: 'GET', url: '/payments/v1/broken', headers: { authorization: basicAuth } });
    expect(r.statusCode).toBe(500);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json()).toEqual({
      error_code: 'INTERNAL_SERVER_ERROR',
      error_messages: ['An internal server error occurred. Try again later.'],
      correlation_id: r.headers['klarna-correlation-id'],
    });
    await app.close();
  });
});
