import { describe, expect, it } from 'vitest';
import { expectCorrelationId, expectKlarnaError, sessionBody, useSimulator } from './helpers.js';

// POST/GET/POST(update) /payments/v1/sessions, Basic auth, error shapes.

const c = useSimulator();

describe('HTTP Basic auth on Klarna paths', () => {
  it('answers 401 UNAUTHORIZED in Klarna shape without credentials, with wrong ones, and with another scheme', async () => {
    for (const auth of [null, `Basic ${Buffer.from('contract-merchant:wrong').toString('base64')}`, 'Bearer abc']) {
      const r = await c.raw('POST', '/payments/v1/sessions', sessionBody(), {}, auth);
      expectKlarnaError(r, 401, 'UNAUTHORIZED');
      expect(r.headers.get('www-authenticate')).toBe('Basic realm="Klarna API"');
    }
    const read = await c.raw('GET', '/customer-token/v1/tokens/x', undefined, {}, null);
    expectKlarnaError(read, 401, 'UNAUTHORIZED');
  });

  it('checks credentials before anything else, also on unknown paths', async () => {
    expectKlarnaError(await c.raw('GET', '/payments/v1/nothing-here', undefined, {}, null), 401, 'UNAUTHORIZED');
    expectKlarnaError(await c.klarna('GET', '/payments/v1/nothing-here'), 404, 'NOT_FOUND');
  });
});

describe('POST /payments/v1/sessions', () => {
  it('creates a session: 200 with session_id, a JWT-shaped client_token and the Klarna category', async () => {
    const r = await c.klarna('POST', '/payments/v1/sessions', sessionBody());
    expect(r.status).toBe(200);
    expectCorrelationId(r);
    expect(r.body).toEqual({
      session_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      client_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
      payment_method_categories: [
        {
          identifier: 'klarna',
          name: 'Pay with Klarna',
          asset_urls: { descriptive: expect.stringMatching(/^https:\/\//), standard: expect.stringMatching(/^https:\/\//) },
        },
      ],
    });
  });

  it('defaults intent to buy and locale to en-US', async () => {
    const { intent: _i, locale: _l, ...body } = sessionBody();
    const r = await c.klarna('POST', '/payments/v1/sessions', body);
    expect(r.status).toBe(200);
    const read = await c.klarna('GET', `/payments/v1/sessions/${r.body.session_id}`);
    expect(read.body).toMatchObject({ intent: 'buy', locale: 'en-US' });
  });

  it('accepts a discounted line (total = quantity × unit_price − discount) and matching tax', async () => {
    const r = await c.klarna(
      'POST',
      '/payments/v1/sessions',
      sessionBody({
        order_amount: 9500,
        order_tax_amount: 1900,
        order_lines: [{ name: 'Battery Power Pack', quantity: 1, unit_price: 10000, total_discount_amount: 500, total_amount: 9500, total_tax_amount: 1900 }],
      }),
    );
    expect(r.status).toBe(200);
  });

  it.each([
    ['purchase_country not ISO alpha-2', { purchase_country: 'Sweden' }, 'Bad value: purchase_country'],
    ['purchase_country unknown', { purchase_country: 'XX' }, 'Bad value: purchase_country'],
    ['purchase_currency not ISO 4217', { purchase_currency: 'KRONA' }, 'Bad value: purchase_currency'],
    ['locale not like en-US', { locale: 'swedish' }, 'Bad value: locale'],
    ['order_amount not the sum of lines', { order_amount: 100 }, 'Bad value: order_amount'],
    ['order_amount not an integer', { order_amount: 199.5 }, 'Bad value: order_amount'],
    ['order_lines missing', { order_lines: undefined }, 'Bad value: order_lines'],
    ['order_lines empty', { order_lines: [] }, 'Bad value: order_lines'],
    ['line without name', { order_lines: [{ quantity: 1, unit_price: 19900, total_amount: 19900 }] }, 'Bad value: order_lines[0].name'],
    ['line total wrong', { order_lines: [{ name: 'x', quantity: 2, unit_price: 19900, total_amount: 19900 }] }, 'Bad value: order_lines[0].total_amount'],
    ['intent unknown', { intent: 'subscribe' }, 'Bad value: intent'],
    ['merchant_urls.authorization not a URL', { merchant_urls: { authorization: 'not a url' } }, 'Bad value: merchant_urls.authorization'],
    ['merchant_reference1 too long', { merchant_reference1: 'x'.repeat(256) }, 'Bad value: merchant_reference1'],
    ['billing country not ISO', { billing_address: { country: 'Sverige' } }, 'Bad value: billing_address.country'],
    ['order_tax_amount not the sum of line taxes', { order_tax_amount: 5, order_lines: [{ name: 'x', quantity: 1, unit_price: 19900, total_amount: 19900, total_tax_amount: 10 }] }, 'Bad value: order_tax_amount'],
  ])('400 BAD_VALUE when %s', async (_what, overrides, message) => {
    const r = await c.klarna('POST', '/payments/v1/sessions', sessionBody(overrides));
    expectKlarnaError(r, 400, 'BAD_VALUE');
    expect(r.body.error_messages).toContain(message);
  });

  it('names every bad field at once', async () => {
    const r = await c.klarna('POST', '/payments/v1/sessions', { order_amount: 'x' });
    expectKlarnaError(r, 400, 'BAD_VALUE');
    expect([...r.body.error_messages].sort()).toEqual(['Bad value: order_amount', 'Bad value: order_lines', 'Bad value: purchase_country', 'Bad value: purchase_currency']);
  });

  it('400 BAD_REQUEST for a body that is not JSON, or not an object', async () => {
    expectKlarnaError(await c.klarna('POST', '/payments/v1/sessions', '{nope', { 'content-type': 'application/json' }), 400, 'BAD_REQUEST');
    expectKlarnaError(await c.klarna('POST', '/payments/v1/sessions', [1, 2]), 400, 'BAD_REQUEST');
    expectKlarnaError(await c.klarna('POST', '/payments/v1/sessions'), 400, 'BAD_REQUEST');
  });

  it('rejects a non-JSON content type with a Klarna-shaped 415', async () => {
    const r = await c.klarna('POST', '/payments/v1/sessions', 'purchase_country=SE', { 'content-type': 'application/x-www-form-urlencoded' });
    expectKlarnaError(r, 415, 'BAD_REQUEST');
  });
});

describe('GET /payments/v1/sessions/{id}', () => {
  it('returns the session fields with status incomplete, intent and expires_at 48 h ahead', async () => {
    const clock = await c.control('GET', '/clock');
    const created = await c.klarna('POST', '/payments/v1/sessions', sessionBody({ merchant_urls: { authorization: 'https://merchant.example/cb?secret=s' } }));
    const r = await c.klarna('GET', `/payments/v1/sessions/${created.body.session_id}`);
    expect(r.status).toBe(200);
    expectCorrelationId(r);
    expect(r.body).toMatchObject({
      status: 'incomplete',
      intent: 'tokenize',
      purchase_country: 'SE',
      purchase_currency: 'SEK',
      locale: 'sv-SE',
      order_amount: 19900,
      order_lines: sessionBody().order_lines,
      merchant_reference1: 'ref-1',
      merchant_urls: { authorization: 'https://merchant.example/cb?secret=s' },
      client_token: created.body.client_token,
    });
    expect(r.body.authorization_token).toBeUndefined();
    const lifetime = Date.parse(r.body.expires_at) - Date.parse(clock.body.now);
    expect(lifetime).toBeGreaterThanOrEqual(48 * 3600_000);
    expect(lifetime).toBeLessThan(48 * 3600_000 + 60_000);
  });

  it('shows the latest authorization_token once the shopper authorized', async () => {
    const created = await c.klarna('POST', '/payments/v1/sessions', sessionBody());
    const id = created.body.session_id;
    const first = await c.control('POST', `/sessions/${id}/authorize`, {});
    expect((await c.klarna('GET', `/payments/v1/sessions/${id}`)).body.authorization_token).toBe(first.body.authorization_token);
    const second = await c.control('POST', `/sessions/${id}/authorize`, {});
    expect(second.body.authorization_token).not.toBe(first.body.authorization_token);
    expect((await c.klarna('GET', `/payments/v1/sessions/${id}`)).body.authorization_token).toBe(second.body.authorization_token);
  });

  it('404 NOT_FOUND for an unknown session, and for one older than 48 h', async () => {
    expectKlarnaError(await c.klarna('GET', '/payments/v1/sessions/does-not-exist'), 404, 'NOT_FOUND');
    const created = await c.klarna('POST', '/payments/v1/sessions', sessionBody());
    await c.control('POST', '/clock/advance', { seconds: 48 * 3600 - 60 });
    expect((await c.klarna('GET', `/payments/v1/sessions/${created.body.session_id}`)).status).toBe(200);
    await c.control('POST', '/clock/advance', { seconds: 61 });
    expectKlarnaError(await c.klarna('GET', `/payments/v1/sessions/${created.body.session_id}`), 404, 'NOT_FOUND');
  });
});

describe('POST /payments/v1/sessions/{id} (update)', () => {
  it('204 with an empty body; the change is visible on read', async () => {
    const created = await c.klarna('POST', '/payments/v1/sessions', sessionBody());
    const id = created.body.session_id;
    const lines = [{ name: 'Coffee, two bags', quantity: 2, unit_price: 10000, total_amount: 20000 }];
    const r = await c.klarna('POST', `/payments/v1/sessions/${id}`, { order_amount: 20000, order_lines: lines, merchant_reference2: 'r2' });
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    expectCorrelationId(r);
    expect((await c.klarna('GET', `/payments/v1/sessions/${id}`)).body).toMatchObject({ order_amount: 20000, order_lines: lines, merchant_reference2: 'r2', intent: 'tokenize' });
  });

  it('intent and step_up_id are fixed at creation: an update sending them changes nothing; fields not sent keep their values', async () => {
    const created = await c.klarna('POST', '/payments/v1/sessions', sessionBody({ intent: 'tokenize' }));
    const id = created.body.session_id;
    expect((await c.klarna('POST', `/payments/v1/sessions/${id}`, { intent: 'buy', step_up_id: 'x', merchant_reference2: 'r' })).status).toBe(204);
    const read = await c.klarna('GET', `/payments/v1/sessions/${id}`);
    expect(read.body).toMatchObject({ intent: 'tokenize', merchant_reference2: 'r', locale: 'sv-SE', acquiring_channel: 'ECOMMERCE', purchase_country: 'SE' });
    expect(read.body.step_up_id).toBeUndefined();
  });

  it('404 NOT_FOUND for an update 48 h after creation', async () => {
    const created = await c.klarna('POST', '/payments/v1/sessions', sessionBody());
    await c.control('POST', '/clock/advance', { seconds: 48 * 3600 });
    expectKlarnaError(await c.klarna('POST', `/payments/v1/sessions/${created.body.session_id}`, { merchant_reference2: 'x' }), 404, 'NOT_FOUND', ['Session not found']);
  });

  it('400 BAD_VALUE when the merged cart no longer adds up, or a field is bad', async () => {
    const created = await c.klarna('POST', '/payments/v1/sessions', sessionBody());
    const id = created.body.session_id;
    expectKlarnaError(await c.klarna('POST', `/payments/v1/sessions/${id}`, { order_amount: 1 }), 400, 'BAD_VALUE', ['Bad value: order_amount']);
    expectKlarnaError(await c.klarna('POST', `/payments/v1/sessions/${id}`, { locale: 'xx' }), 400, 'BAD_VALUE', ['Bad value: locale']);
  });

  it('404 NOT_FOUND for an unknown session; 404 SESSION_COMPLETED once an order was placed', async () => {
    expectKlarnaError(await c.klarna('POST', '/payments/v1/sessions/nope', { merchant_reference2: 'x' }), 404, 'NOT_FOUND');
    const created = await c.klarna('POST', '/payments/v1/sessions', sessionBody({ intent: 'buy' }));
    const id = created.body.session_id;
    const auth = await c.control('POST', `/sessions/${id}/authorize`, {});
    const { intent: _intent, ...orderBody } = sessionBody();
    const order = await c.klarna('POST', `/payments/v1/authorizations/${auth.body.authorization_token}/order`, orderBody);
    expect(order.status).toBe(200);
    expect((await c.klarna('GET', `/payments/v1/sessions/${id}`)).body.status).toBe('complete');
    expectKlarnaError(await c.klarna('POST', `/payments/v1/sessions/${id}`, { merchant_reference2: 'x' }), 404, 'SESSION_COMPLETED');
  });
});
