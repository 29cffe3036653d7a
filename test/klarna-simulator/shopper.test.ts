import { describe, expect, it } from 'vitest';
import { authorizedSession, customerTokenBody, expectKlarnaError, sessionBody, useSimulator } from './helpers.js';

// The shopper's side: Klarna's playground addresses and OTP deciding outcomes, the HTML pages
// (plain forms), and the redirects back to the merchant (merchant URLs / return_url / confirmation)
// with placeholders filled.

const c = useSimulator();

const newSession = async (overrides: Record<string, unknown> = {}) => (await c.klarna('POST', '/payments/v1/sessions', sessionBody(overrides))).body.session_id as string;
const authorize = (id: string, body: Record<string, unknown> = {}) => c.control('POST', `/sessions/${id}/authorize`, body);

describe('playground addresses and OTP (klarna-api-facts §6)', () => {
  it('the login email overrides the billing email: customer+denied@… declines (reason denied)', async () => {
    const id = await newSession();
    expect((await authorize(id, { email: 'customer+denied@email.se' })).body).toEqual({ approved: false, session_id: id, reason: 'denied' });
    expect((await authorize(id, { email: 'customer@email.se' })).body.approved).toBe(true);
  });

  it('customer+denied+auth_<method>@…: approved after the extra authentication (step_up_method), declined with OTP 999999', async () => {
    const id = await newSession({ billing_address: { email: 'customer+denied+auth_otp_email@email.us', country: 'SE' } });
    const passed = await authorize(id);
    expect(passed.body).toMatchObject({ approved: true, step_up_method: 'otp_email', authorization_token: expect.any(String) });
    expect((await authorize(id, { otp: '654321' })).body.approved).toBe(true);
    expect((await authorize(id, { otp: '999999' })).body).toEqual({ approved: false, session_id: id, reason: 'step_up_failed' });
    expect((await authorize(id, { email: 'customer+denied+auth_bank_login@email.us' })).body.step_up_method).toBe('bank_login');
    expect((await c.control('GET', `/sessions/${id}`)).body.authorizations).toHaveLength(3);
  });

  it('OTP 999999 fails any login; an explicit outcome wins over the address', async () => {
    const id = await newSession();
    expect((await authorize(id, { otp: '999999' })).body.reason).toBe('otp_failed');
    const denied = await newSession({ billing_address: { email: 'customer+denied@email.se', country: 'SE' } });
    expect((await authorize(denied, { outcome: 'approve' })).body.approved).toBe(true);
    expect((await authorize(id, { outcome: 'decline' })).body.reason).toBe('shopper_declined');
  });

  it('400 for a malformed login field', async () => {
    const id = await newSession();
    expectKlarnaError(await authorize(id, { email: 'x' }), 400, 'BAD_VALUE');
    expectKlarnaError(await authorize(id, { authorized_payment_method_format: 'xml' }), 400, 'BAD_VALUE');
  });
});

describe('authorized_payment_method as a string (the seeds’ sample shape)', () => {
  it('authorize with authorized_payment_method_format "string": the order answers "invoice" instead of the object', async () => {
    const { authorizationToken } = await authorizedSession(c, { intent: 'buy' }, { payment_method_type: 'INVOICE', authorized_payment_method_format: 'string' });
    const { intent: _i, ...order } = sessionBody();
    const r = await c.klarna('POST', `/payments/v1/authorizations/${authorizationToken}/order`, order);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ order_id: expect.any(String), fraud_status: 'ACCEPTED', authorized_payment_method: 'invoice' });
  });
});

describe('redirect_url of an order or customer token → the merchant’s confirmation URL', () => {
  it('303 to merchant_urls.confirmation with {{order_id}}, {{session_id}}, {{authorization_token}} filled', async () => {
    const confirmation = 'https://merchant.example/thanks?order={{order_id}}&session={{session_id}}&auth={{authorization_token}}';
    const urls = { merchant_urls: { confirmation } };
    const { authorizationToken, sessionId } = await authorizedSession(c, { intent: 'buy_and_tokenize', ...urls });
    const { intent: _i, ...order } = sessionBody(urls);
    const placed = await c.klarna('POST', `/payments/v1/authorizations/${authorizationToken}/order`, order);
    const r = await fetch(placed.body.redirect_url, { redirect: 'manual' });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe(`https://merchant.example/thanks?order=${placed.body.order_id}&session=${sessionId}&auth=${authorizationToken}`);
    const token = await c.klarna('POST', `/payments/v1/authorizations/${authorizationToken}/customer-token`, customerTokenBody());
    const t = await fetch(token.body.redirect_url, { redirect: 'manual' });
    expect(t.status).toBe(303);
    expect(t.headers.get('location')).toBe(`https://merchant.example/thanks?order=&session=${sessionId}&auth=${authorizationToken}`);
  });

  it('without a confirmation URL: a placeholder page (200 HTML)', async () => {
    const { authorizationToken } = await authorizedSession(c);
    const token = await c.klarna('POST', `/payments/v1/authorizations/${authorizationToken}/customer-token`, customerTokenBody());
    const page = await c.raw('GET', new URL(token.body.redirect_url).pathname);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).toContain(token.body.token_id);
  });
});

describe('the KP purchase page (SDK path)', () => {
  it('has the login fields (email prefilled with the billing email, OTP) and a Continue button that lets them decide', async () => {
    const id = await newSession();
    const page = await c.raw('GET', `/_sim/purchase/${id}`);
    expect(page.text).toMatch(/<input id="email" name="email" value="customer@email.se"/);
    expect(page.text).toMatch(/<input id="otp" name="otp" value="123456"/);
    expect(page.text).toMatch(/<button id="login"[^>]*>Continue with Klarna<\/button>/);
  });
});

describe('Hosted Payment Page in a browser (form posts)', () => {
  async function hpp(merchantUrls: Record<string, string> | undefined, sessionOverrides: Record<string, unknown> = {}) {
    const kp = await newSession({ intent: 'buy', ...sessionOverrides });
    const r = await c.klarna('POST', '/hpp/v1/sessions', {
      payment_session_url: `https://api.klarna.com/payments/v1/sessions/${kp}`,
      ...(merchantUrls ? { merchant_urls: merchantUrls } : {}),
    });
    expect(r.status).toBe(201);
    return r.body.session_id as string;
  }
  const urls = {
    success: 'https://merchant.example/ok?hpp={{session_id}}&token={{authorization_token}}',
    failure: 'https://merchant.example/fail?hpp={{session_id}}',
    cancel: 'https://merchant.example/cancel?hpp={{session_id}}',
    back: 'https://merchant.example/back?hpp={{session_id}}',
    error: 'https://merchant.example/error?hpp={{session_id}}',
  };

  it('the page is a form posting to the complete control, with one button per outcome and the login fields', async () => {
    const id = await hpp(urls);
    // A HEAD (link checker) is not the shopper arriving; the GET below is.
    expect((await fetch(`${c.url}/_sim/hpp/${id}`, { method: 'HEAD' })).status).toBe(200);
    expect((await c.klarna('GET', `/hpp/v1/sessions/${id}`)).body.status).toBe('WAITING');
    const page = await c.raw('GET', `/_sim/hpp/${id}`);
    expect(page.text).toContain(`<form method="post" action="/_sim/hpp/${id}/complete">`);
    for (const o of ['approve', 'decline', 'cancel', 'back', 'error']) expect(page.text).toMatch(new RegExp(`<button id="${o}" type="submit" name="outcome" value="${o}"`));
    expect(page.text).toMatch(/<button id="login" type="submit"/);
  });

  it.each([
    ['approve', 'COMPLETED', 'ok'],
    ['decline', 'FAILED', 'fail'],
    ['cancel', 'CANCELLED', 'cancel'],
    ['back', 'BACK', 'back'],
    ['error', 'ERROR', 'error'],
  ])('form outcome=%s → 303 to the merchant URL (placeholders filled); status %s', async (outcome, status, path) => {
    const id = await hpp(urls);
    const r = await c.form(`/_sim/hpp/${id}/complete`, { outcome, email: '', otp: '' });
    expect(r.status).toBe(303);
    const read = await c.klarna('GET', `/hpp/v1/sessions/${id}`);
    expect(read.body.status).toBe(status);
    const expected = path === 'ok' ? `https://merchant.example/ok?hpp=${id}&token=${read.body.authorization_token}` : `https://merchant.example/${path}?hpp=${id}`;
    expect(r.headers.get('location')).toBe(expected);
  });

  it('Continue (no outcome): the login decides; customer+denied@… goes to the failure URL', async () => {
    const id = await hpp(urls);
    const r = await c.form(`/_sim/hpp/${id}/complete`, { email: 'customer+denied@email.se', otp: '123456' });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe(`https://merchant.example/fail?hpp=${id}`);
    // JSON control without outcome: the billing address decides the same way.
    const other = await hpp(urls, { billing_address: { email: 'customer+denied@email.se', country: 'SE' } });
    expect((await c.control('POST', `/hpp/${other}/complete`, {})).body.status).toBe('FAILED');
  });

  it('no merchant URL for the outcome: a result page (200 HTML) instead of a redirect', async () => {
    const id = await hpp(undefined);
    const r = await c.form(`/_sim/hpp/${id}/complete`, { outcome: 'approve' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(r.text).toContain('COMPLETED');
  });
});

describe('v2 purchase journey in a browser (payment_request_url)', () => {
  const returnUrl =
    'https://partner.example/return?id={klarna.payment_request.id}&state={klarna.payment_request.state}&ref={klarna.payment_request.payment_request_reference}&nst={klarna.payment_request.klarna_network_session_token}&other={klarna.unknown}';
  async function paymentRequest() {
    const r = await c.klarna('POST', '/v2/payment/requests', {
      currency: 'USD',
      amount: 1000,
      payment_request_reference: 'ref-7',
      customer_interaction_config: { method: 'HANDOVER', return_url: returnUrl },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { payment_request_id: string; state_context: { customer_interaction: { payment_request_url: string } } };
  }

  it('payment_request_url opens a form page (approve / decline / cancel / back + login)', async () => {
    const pr = await paymentRequest();
    const page = await fetch(pr.state_context.customer_interaction.payment_request_url);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect((await c.klarna('GET', `/v2/payment/requests/${pr.payment_request_id}`)).body.state).toBe('IN_PROGRESS');
    expect(html).toContain(`<form method="post" action="/_sim/v2/payment-requests/${encodeURIComponent(pr.payment_request_id)}/complete">`);
    for (const o of ['approve', 'decline', 'cancel', 'back']) expect(html).toMatch(new RegExp(`<button id="${o}" type="submit" name="outcome" value="${o}"`));
  });

  it('approve → 303 to return_url with Klarna’s {klarna.payment_request.*} placeholders filled', async () => {
    const pr = await paymentRequest();
    const path = `/_sim/v2/payment-requests/${encodeURIComponent(pr.payment_request_id)}/complete`;
    const r = await c.form(path, { outcome: 'approve' });
    expect(r.status).toBe(303);
    const read = await c.klarna('GET', `/v2/payment/requests/${pr.payment_request_id}`);
    const location = new URL(r.headers.get('location')!);
    expect(Object.fromEntries(location.searchParams)).toEqual({
      id: pr.payment_request_id,
      state: 'COMPLETED',
      ref: 'ref-7',
      nst: read.body.state_context.klarna_network_session_token,
      other: '{klarna.unknown}',
    });
  });

  it('cancel → CANCELED (PURCHASE_FLOW_ABORTED) and the return_url with state CANCELED; the login can decline', async () => {
    const pr = await paymentRequest();
    const r = await c.form(`/_sim/v2/payment-requests/${encodeURIComponent(pr.payment_request_id)}/complete`, { outcome: 'cancel' });
    expect(new URL(r.headers.get('location')!).searchParams.get('state')).toBe('CANCELED');
    expect((await c.klarna('GET', `/v2/payment/requests/${pr.payment_request_id}`)).body).toMatchObject({ state: 'CANCELED', state_reason: 'PURCHASE_FLOW_ABORTED' });

    const denied = await paymentRequest();
    const d = await c.control('POST', `/v2/payment-requests/${encodeURIComponent(denied.payment_request_id)}/complete`, { email: 'customer+denied@email.us' });
    expect(d.body).toMatchObject({ state: 'DECLINED', redirect_to: expect.stringContaining('state=DECLINED') });
    const stepUp = await paymentRequest();
    const s = await c.control('POST', `/v2/payment-requests/${encodeURIComponent(stepUp.payment_request_id)}/complete`, { email: 'customer+denied+auth_id_scan@email.us' });
    expect(s.body).toMatchObject({ state: 'COMPLETED', step_up_method: 'id_scan' });
    const failed = await paymentRequest();
    const f = await c.control('POST', `/v2/payment-requests/${encodeURIComponent(failed.payment_request_id)}/complete`, { email: 'customer+denied+auth_id_scan@email.us', otp: '999999' });
    expect(f.body.state).toBe('DECLINED');
  });

  it('unknown payment request: the page is a 404', async () => {
    const r = await c.raw('GET', '/_sim/v2/pay/krn:payment:eu1:request:nope');
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
  });
});
