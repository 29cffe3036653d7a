import { describe, expect, it } from 'vitest';
import { customerToken, customerTokenBody, expectCorrelationId, expectKlarnaError, sessionBody, until, useReceiver, useSimulator } from './helpers.js';

// Hosted Payment Page v1: create, read, disable, the shopper's page and controls, status_update callbacks.

const c = useSimulator({ callbackRetryBaseMs: 50 });
const merchant = useReceiver();

async function kpSession(overrides: Record<string, unknown> = {}) {
  const r = await c.klarna('POST', '/payments/v1/sessions', sessionBody(overrides));
  expect(r.status).toBe(200);
  return r.body.session_id as string;
}

const merchantUrls = () => ({
  success: `${merchant.url}/success?hppId={{session_id}}&token={{authorization_token}}&order={{order_id}}`,
  failure: `${merchant.url}/fail?hppId={{session_id}}`,
  cancel: `${merchant.url}/cancel?hppId={{session_id}}`,
  back: `${merchant.url}/back?hppId={{session_id}}`,
  error: `${merchant.url}/error?hppId={{session_id}}`,
  status_update: `${merchant.url}/status?secret=s3&hppId={{session_id}}`,
});

async function hppSession(kpId: string, options: Record<string, unknown> = {}) {
  const r = await c.klarna('POST', '/hpp/v1/sessions', {
    payment_session_url: `https://api.playground.klarna.com/payments/v1/sessions/${kpId}`,
    merchant_urls: merchantUrls(),
    options,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r;
}

describe('POST /hpp/v1/sessions', () => {
  it('201 with session_id, session_url, redirect_url, qr_code_url, distribution_url, expires_at ≈ KP expiry − 1 h', async () => {
    const kpId = await kpSession();
    const r = await hppSession(kpId);
    expectCorrelationId(r);
    expect(r.body.session_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body).toMatchObject({
      session_url: expect.stringMatching(new RegExp(`/hpp/v1/sessions/${r.body.session_id}$`)),
      redirect_url: `${c.url}/_sim/hpp/${r.body.session_id}`,
      qr_code_url: expect.any(String),
      distribution_url: expect.any(String),
      manual_identification_check_url: expect.any(String),
      distribution_module: { generation_url: expect.any(String), standalone_url: expect.any(String), token: expect.any(String) },
    });
    const kp = await c.klarna('GET', `/payments/v1/sessions/${kpId}`);
    expect(Date.parse(kp.body.expires_at) - Date.parse(r.body.expires_at)).toBe(3600_000);
  });

  it('400 BAD_VALUE for a payment_session_url that is not a live KP session, or a bad merchant URL', async () => {
    expectKlarnaError(await c.klarna('POST', '/hpp/v1/sessions', {}), 400, 'BAD_VALUE', ['Bad value: payment_session_url']);
    expectKlarnaError(
      await c.klarna('POST', '/hpp/v1/sessions', { payment_session_url: 'https://api.klarna.com/payments/v1/sessions/nope' }),
      400,
      'BAD_VALUE',
      ['Bad value: payment_session_url'],
    );
    const kpId = await kpSession();
    expectKlarnaError(
      await c.klarna('POST', '/hpp/v1/sessions', { payment_session_url: `https://x/payments/v1/sessions/${kpId}`, merchant_urls: { success: 'nope' } }),
      400,
      'BAD_VALUE',
      ['Bad value: merchant_urls.success'],
    );
    expectKlarnaError(
      await c.klarna('POST', '/hpp/v1/sessions', { payment_session_url: `https://x/payments/v1/sessions/${kpId}`, options: { place_order_mode: 'LATER' } }),
      400,
      'BAD_VALUE',
      ['Bad value: options.place_order_mode'],
    );
  });
});

describe('shopper on the hosted page', () => {
  it('place_order_mode NONE: open → IN_PROGRESS, approve → COMPLETED with authorization_token; the merchant then places the order', async () => {
    const kpId = await kpSession({ intent: 'buy' });
    const hpp = await hppSession(kpId);
    const id = hpp.body.session_id;
    expect((await c.klarna('GET', `/hpp/v1/sessions/${id}`)).body).toMatchObject({ session_id: id, status: 'WAITING' });

    const page = await c.raw('GET', `/_sim/hpp/${id}`);
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<button id="approve"/);
    expect(page.text).toMatch(/<button id="cancel"/);
    expect((await c.klarna('GET', `/hpp/v1/sessions/${id}`)).body.status).toBe('IN_PROGRESS');

    const done = await c.control('POST', `/hpp/${id}/complete`, { outcome: 'approve' });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'COMPLETED', authorization_token: expect.any(String) });
    expect(done.body.redirect_to).toBe(`${merchant.url}/success?hppId=${id}&token=${done.body.authorization_token}&order=`);
    const read = await c.klarna('GET', `/hpp/v1/sessions/${id}`);
    expect(read.body).toEqual({
      session_id: id,
      status: 'COMPLETED',
      updated_at: expect.any(String),
      expires_at: expect.any(String),
      authorization_token: done.body.authorization_token,
    });
    const { intent: _i, ...order } = sessionBody();
    expect((await c.klarna('POST', `/payments/v1/authorizations/${read.body.authorization_token}/order`, order)).status).toBe(200);

    // status_update callbacks: IN_PROGRESS then COMPLETED, each {event_id, session}.
    const updates = await until(async () => (merchant.received.filter((r) => r.url.startsWith('/status')).length === 2 ? merchant.received : undefined), 'two status updates');
    expect(updates.map((u) => u.body.session.status)).toEqual(['IN_PROGRESS', 'COMPLETED']);
    expect(updates[0]!.url).toBe(`/status?secret=s3&hppId=${id}`);
    expect(updates[1]!.body).toEqual({ event_id: expect.any(String), session: expect.objectContaining({ session_id: id, status: 'COMPLETED' }) });
  });

  it('PLACE_ORDER: Klarna places the order; GET shows order_id and klarna_reference, no authorization_token', async () => {
    const kpId = await kpSession({ intent: 'buy_and_tokenize' });
    const id = (await hppSession(kpId, { place_order_mode: 'PLACE_ORDER' })).body.session_id;
    const done = await c.control('POST', `/hpp/${id}/complete`, { outcome: 'approve' });
    expect(done.body).toMatchObject({ status: 'COMPLETED', order_id: expect.any(String), klarna_reference: expect.any(String) });
    expect(done.body.authorization_token).toBeUndefined();
    expect(done.body.redirect_to).toContain(`order=${done.body.order_id}`);
    const orders = (await c.control('GET', '/orders')).body;
    expect(orders).toEqual([expect.objectContaining({ order_id: done.body.order_id, session_id: kpId, source: 'authorization' })]);
    expect((await c.klarna('GET', `/payments/v1/sessions/${kpId}`)).body.status).toBe('complete');
    // The authorization can still make the customer token (buy_and_tokenize).
    const auth = (await c.klarna('GET', `/payments/v1/sessions/${kpId}`)).body.authorization_token;
    expect((await c.klarna('POST', `/payments/v1/authorizations/${auth}/customer-token`, customerTokenBody())).status).toBe(200);
  });

  it('CAPTURE_ORDER places an auto-captured order; a REJECTED purchase ends FAILED (retry possible)', async () => {
    const kpId = await kpSession({ intent: 'buy' });
    const id = (await hppSession(kpId, { place_order_mode: 'CAPTURE_ORDER' })).body.session_id;
    const rejected = await c.control('POST', `/hpp/${id}/complete`, { outcome: 'approve', fraud_status: 'REJECTED' });
    expect(rejected.body).toMatchObject({ status: 'FAILED', error: 'REJECTED', redirect_to: `${merchant.url}/fail?hppId=${id}` });
    const ok = await c.control('POST', `/hpp/${id}/complete`, { outcome: 'approve' });
    expect(ok.body.status).toBe('COMPLETED');
    const [order] = (await c.control('GET', '/orders')).body;
    expect(order.body.auto_capture).toBe(true);
  });

  it.each([
    ['decline', 'FAILED', 'fail'],
    ['back', 'BACK', 'back'],
    ['error', 'ERROR', 'error'],
    ['cancel', 'CANCELLED', 'cancel'],
  ])('%s → %s and the %s URL', async (outcome, status, path) => {
    const kpId = await kpSession();
    const id = (await hppSession(kpId)).body.session_id;
    const r = await c.control('POST', `/hpp/${id}/complete`, { outcome });
    expect(r.body).toMatchObject({ status, redirect_to: `${merchant.url}/${path}?hppId=${id}` });
    expect((await c.klarna('GET', `/hpp/v1/sessions/${id}`)).body.status).toBe(status);
  });

  it('final states allow nothing more (409); FAILED / BACK / ERROR allow another try', async () => {
    const kpId = await kpSession();
    const id = (await hppSession(kpId)).body.session_id;
    expect((await c.control('POST', `/hpp/${id}/complete`, { outcome: 'back' })).body.status).toBe('BACK');
    expect((await c.control('POST', `/hpp/${id}/open`)).body.status).toBe('IN_PROGRESS');
    expect((await c.control('POST', `/hpp/${id}/complete`, { outcome: 'cancel' })).body.status).toBe('CANCELLED');
    expectKlarnaError(await c.control('POST', `/hpp/${id}/complete`, { outcome: 'approve' }), 409, 'INVALID_OPERATION');
  });
});

describe('step-up recovery through HPP (seed 000, HPP path)', () => {
  it('a step-up KP session hosted in PLACE_ORDER mode: approval places the order and the token charges again', async () => {
    const { tokenId } = await customerToken(c, { intent: 'buy_and_tokenize' });
    await c.control('POST', `/tokens/${tokenId}/payment-method`, { failing: true });
    const charge = (body: Record<string, unknown>) =>
      c.klarna('POST', `/customer-token/v1/tokens/${tokenId}/order`, {
        purchase_currency: 'SEK', order_amount: 19900, order_tax_amount: 0,
        order_lines: [{ name: 'Coffee subscription, monthly', quantity: 1, unit_price: 19900, total_amount: 19900 }], ...body,
      });
    const failed = await charge({ step_up: 'SUPPORTED' });
    expect(failed.status).toBe(403);
    const kpId = await kpSession({ intent: 'buy_and_tokenize', step_up_id: failed.body.step_up_id, customer: { customer_token: tokenId } });
    const id = (await hppSession(kpId, { place_order_mode: 'PLACE_ORDER' })).body.session_id;
    const done = await c.control('POST', `/hpp/${id}/complete`, { outcome: 'approve', payment_method_type: 'INVOICE' });
    expect(done.body).toMatchObject({ status: 'COMPLETED', order_id: expect.any(String) });
    expect((await c.klarna('GET', `/customer-token/v1/tokens/${tokenId}`)).body).toEqual({ status: 'ACTIVE', payment_method_type: 'INVOICE' });
    expect((await charge({})).status).toBe(200);
  });
});

describe('GET / DELETE /hpp/v1/sessions/{id}', () => {
  it('DELETE disables (204, status DISABLED); 400 once final; 404 unknown or expired', async () => {
    const kpId = await kpSession();
    const id = (await hppSession(kpId)).body.session_id;
    const r = await c.klarna('DELETE', `/hpp/v1/sessions/${id}`);
    expect(r.status).toBe(204);
    expect((await c.klarna('GET', `/hpp/v1/sessions/${id}`)).body.status).toBe('DISABLED');
    expectKlarnaError(await c.klarna('DELETE', `/hpp/v1/sessions/${id}`), 400, 'BAD_REQUEST');
    expectKlarnaError(await c.klarna('GET', '/hpp/v1/sessions/nope'), 404, 'NOT_FOUND');
    const other = (await hppSession(await kpSession())).body.session_id;
    await c.control('POST', '/clock/advance', { seconds: 47 * 3600 });
    expectKlarnaError(await c.klarna('GET', `/hpp/v1/sessions/${other}`), 404, 'NOT_FOUND');
    expect((await c.raw('GET', `/_sim/hpp/${other}`)).status).toBe(404);
  });

  it('DELETE sends a DISABLED status_update; a COMPLETED or CANCELLED session cannot be disabled (400)', async () => {
    const id = (await hppSession(await kpSession())).body.session_id;
    expect((await c.klarna('DELETE', `/hpp/v1/sessions/${id}`)).status).toBe(204);
    const update = await until(async () => merchant.received.find((r) => r.url.startsWith('/status')), 'the DISABLED status_update');
    expect(update.body).toEqual({ event_id: expect.any(String), session: expect.objectContaining({ session_id: id, status: 'DISABLED' }) });
    expectKlarnaError(await c.control('POST', `/hpp/${id}/open`), 409, 'INVALID_OPERATION');
    for (const outcome of ['approve', 'cancel']) {
      const other = (await hppSession(await kpSession({ intent: 'buy' }))).body.session_id;
      await c.control('POST', `/hpp/${other}/complete`, { outcome });
      expectKlarnaError(await c.klarna('DELETE', `/hpp/v1/sessions/${other}`), 400, 'BAD_REQUEST');
    }
  });

  it('400 for a payment_session_url whose KP session is complete or expired', async () => {
    const { intent: _i, ...order } = sessionBody();
    const done = await kpSession({ intent: 'buy' });
    const auth = await c.control('POST', `/sessions/${done}/authorize`, {});
    await c.klarna('POST', `/payments/v1/authorizations/${auth.body.authorization_token}/order`, order);
    const url = (id: string) => ({ payment_session_url: `https://api.klarna.com/payments/v1/sessions/${id}` });
    expectKlarnaError(await c.klarna('POST', '/hpp/v1/sessions', url(done)), 400, 'BAD_VALUE', ['Bad value: payment_session_url']);
    const old = await kpSession();
    await c.control('POST', '/clock/advance', { seconds: 48 * 3600 });
    expectKlarnaError(await c.klarna('POST', '/hpp/v1/sessions', url(old)), 400, 'BAD_VALUE', ['Bad value: payment_session_url']);
    expectKlarnaError(await c.control('POST', '/hpp/nope/open'), 404, 'NOT_FOUND');
    expectKlarnaError(await c.control('POST', '/hpp/nope/complete', {}), 404, 'NOT_FOUND');
  });

  it('needs Basic auth like every Klarna path', async () => {
    expectKlarnaError(await c.raw('GET', '/hpp/v1/sessions/x', undefined, {}, null), 401, 'UNAUTHORIZED');
  });
});
