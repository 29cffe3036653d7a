import { createHmac } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { clientFor, expectCorrelationId, expectKlarnaError, startSim, until, useReceiver, useSimulator, type HttpResult } from './helpers.js';

// Klarna v2: Payment Request API, Payment Authorize API (seed 002), signed webhooks (seed 003).

const c = useSimulator({ callbackRetryBaseMs: 5, apiKey: 'klarna_test_api_simkey' });
let hookStatus = 200;
const hooks = useReceiver(() => hookStatus, '/klarna/webhooks');
beforeEach(() => {
  hookStatus = 200;
});

function expectV2Error(r: HttpResult, status: number, errorType: string, errorCode?: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body).toMatchObject({ error_id: r.headers.get('klarna-correlation-id'), error_type: errorType, error_message: expect.any(String) });
  if (errorCode) expect(r.body.error_code).toBe(errorCode);
}

const authorizePath = '/v2/accounts/krn:partner:global:account:test:ACQ1/payment/authorize';
const tokenAndPurchase = {
  currency: 'USD',
  request_payment_transaction: { amount: 11800, payment_transaction_reference: 'tx-ref-1' },
  request_customer_token: { scopes: ['payment:customer_not_present'], customer_token_reference: 'ctr-1' },
  step_up_config: { payment_request_reference: 'pr-ref-1', customer_interaction_config: { method: 'HANDOVER', return_url: 'https://partner.example/return' } },
};

describe('Payment Request API', () => {
  it('POST → 201 SUBMITTED with a KRN id, payment_request_url, expires_at 3 h ahead; GET reads it back', async () => {
    const r = await c.klarna('POST', '/v2/payment/requests', {
      currency: 'USD',
      payment_request_reference: 'ref-1',
      request_customer_token: { scopes: ['payment:customer_not_present'], customer_token_reference: 'ctr-9' },
      customer_interaction_config: { method: 'HANDOVER', return_url: 'https://partner.example/back' },
    });
    expect(r.status).toBe(201);
    expectCorrelationId(r);
    expect(r.body).toMatchObject({
      payment_request_id: expect.stringMatching(/^krn:payment:eu1:request:[0-9a-f-]{36}$/),
      state: 'SUBMITTED',
      currency: 'USD',
      payment_request_reference: 'ref-1',
      state_context: { customer_interaction: { method: 'HANDOVER', payment_request_id: r.body.payment_request_id, payment_request_url: expect.stringContaining('/_sim/v2/pay/') } },
    });
    expect(Date.parse(r.body.expires_at) - Date.parse(r.body.created_at)).toBe(3 * 3600_000);
    const read = await c.klarna('GET', `/v2/payment/requests/${r.body.payment_request_id}`);
    expect(read.body).toEqual(r.body);
  });

  it('400 INPUT_ERROR with errors[] for a bad body; 404 RESOURCE_ERROR for an unknown id; 401 in v2 shape', async () => {
    const bad = await c.klarna('POST', '/v2/payment/requests', { currency: 'US' });
    expectV2Error(bad, 400, 'INPUT_ERROR', 'INVALID_CONTENT');
    expect(bad.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ parameter: 'currency' }), expect.objectContaining({ parameter: 'amount' })]));
    expectV2Error(await c.klarna('GET', '/v2/payment/requests/krn:payment:eu1:request:nope'), 404, 'RESOURCE_ERROR');
    expectV2Error(await c.raw('GET', '/v2/payment/requests/x', undefined, {}, null), 401, 'ACCESS_ERROR');
    // The API key works as Basic credentials on v2 paths.
    expect((await c.raw('GET', '/v2/payment/requests/x', undefined, {}, 'Basic klarna_test_api_simkey')).status).toBe(404);
  });

  it('shopper journey: open → IN_PROGRESS, approve → COMPLETED with network session token and customer token', async () => {
    const created = await c.klarna('POST', '/v2/payment/requests', { currency: 'USD', amount: 999, request_customer_token: { scopes: ['payment:customer_present'] } });
    const id = created.body.payment_request_id;
    const page = await c.raw('GET', `/_sim/v2/pay/${encodeURIComponent(id)}`);
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<button id="approve"/);
    expect((await c.klarna('GET', `/v2/payment/requests/${id}`)).body.state).toBe('IN_PROGRESS');
    const done = await c.control('POST', `/v2/payment-requests/${encodeURIComponent(id)}/complete`, { outcome: 'approve' });
    expect(done.body).toMatchObject({
      state: 'COMPLETED',
      previous_state: 'IN_PROGRESS',
      state_context: {
        klarna_network_session_token: expect.stringMatching(/^krn:network:eu1:test:session-token:/),
        klarna_customer: { customer_token: expect.stringMatching(/^krn:customer-token:/) },
      },
    });
  });

  it('PUT only while SUBMITTED (else 409); DELETE → CANCELED (PARTNER_CANCELED); decline / abort / expiry end it', async () => {
    const mk = async () => (await c.klarna('POST', '/v2/payment/requests', { currency: 'USD', amount: 500 })).body.payment_request_id as string;
    const a = await mk();
    const put = await c.klarna('PUT', `/v2/payment/requests/${a}`, { currency: 'USD', amount: 700 });
    expect(put.status).toBe(200);
    expect(put.body.amount).toBe(700);
    const del = await c.klarna('DELETE', `/v2/payment/requests/${a}`);
    expect(del.body).toMatchObject({ state: 'CANCELED', previous_state: 'SUBMITTED', state_reason: 'PARTNER_CANCELED' });
    expectV2Error(await c.klarna('PUT', `/v2/payment/requests/${a}`, { currency: 'USD', amount: 1 }), 409, 'RESOURCE_ERROR', 'INVALID_STATE');

    const b = await mk();
    expect((await c.control('POST', `/v2/payment-requests/${encodeURIComponent(b)}/complete`, { outcome: 'decline' })).body.state).toBe('DECLINED');
    const d = await mk();
    expect((await c.control('POST', `/v2/payment-requests/${encodeURIComponent(d)}/complete`, { outcome: 'abort' })).body).toMatchObject({ state: 'CANCELED', state_reason: 'PURCHASE_FLOW_ABORTED' });
    const e = await mk();
    await c.control('POST', '/clock/advance', { seconds: 3 * 3600 });
    expect((await c.klarna('GET', `/v2/payment/requests/${e}`)).body.state).toBe('EXPIRED');
  });
});

describe('Payment Authorize API', () => {
  it('first call: STEP_UP_REQUIRED for both, with a SUBMITTED payment request; after approval, finalizing APPROVES both (idempotently)', async () => {
    const first = await c.klarna('POST', authorizePath, tokenAndPurchase);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      payment_transaction_response: { result: 'STEP_UP_REQUIRED' },
      customer_token_response: { result: 'STEP_UP_REQUIRED' },
      payment_request: { state: 'SUBMITTED', amount: 11800, payment_request_reference: 'pr-ref-1', state_context: { customer_interaction: { payment_request_url: expect.any(String) } } },
    });
    const id = first.body.payment_request.payment_request_id;
    const done = await c.control('POST', `/v2/payment-requests/${encodeURIComponent(id)}/complete`, { outcome: 'approve' });
    expect(done.body.redirect_to).toBe('https://partner.example/return');
    const sessionToken = done.body.state_context.klarna_network_session_token;

    const final = await c.klarna('POST', authorizePath, tokenAndPurchase, { 'Klarna-Network-Session-Token': sessionToken });
    expect(final.body).toEqual({
      payment_transaction_response: {
        result: 'APPROVED',
        payment_transaction: { payment_transaction_id: expect.stringMatching(/^krn:payment:eu1:transaction:/), payment_transaction_reference: 'tx-ref-1', amount: 11800, currency: 'USD' },
      },
      customer_token_response: { result: 'APPROVED', customer_token: done.body.state_context.klarna_customer.customer_token },
    });
    const again = await c.klarna('POST', authorizePath, tokenAndPurchase, { 'Klarna-Network-Session-Token': sessionToken });
    expect(again.body).toEqual(final.body);
  });

  it('without step_up_config a step-up cannot be triggered: DECLINED', async () => {
    const { step_up_config: _s, ...body } = tokenAndPurchase;
    const r = await c.klarna('POST', authorizePath, body);
    expect(r.body).toEqual({ payment_transaction_response: { result: 'DECLINED' }, customer_token_response: { result: 'DECLINED' } });
  });

  it('a network session token is valid 1 hour; unknown/expired → 400 INPUT_ERROR', async () => {
    const first = await c.klarna('POST', authorizePath, tokenAndPurchase);
    const done = await c.control('POST', `/v2/payment-requests/${encodeURIComponent(first.body.payment_request.payment_request_id)}/complete`, {});
    await c.control('POST', '/clock/advance', { seconds: 3600 });
    const r = await c.klarna('POST', authorizePath, tokenAndPurchase, { 'Klarna-Network-Session-Token': done.body.state_context.klarna_network_session_token });
    expectV2Error(r, 400, 'INPUT_ERROR', 'INVALID_NETWORK_SESSION_TOKEN');
  });

  it('a token charge with Klarna-Customer-Token: APPROVED while ACTIVE, DECLINED once cancelled; unknown token 404', async () => {
    await c.control('POST', '/v2/authorize/next', { token: 'APPROVED', payment: 'APPROVED' });
    const created = await c.klarna('POST', authorizePath, tokenAndPurchase);
    const token = created.body.customer_token_response.customer_token;
    const chargeBody = { currency: 'USD', request_payment_transaction: { amount: 999 } };
    const ok = await c.klarna('POST', authorizePath, chargeBody, { 'Klarna-Customer-Token': token });
    expect(ok.body.payment_transaction_response.result).toBe('APPROVED');
    await c.control('POST', `/v2/tokens/${encodeURIComponent(token)}/status`, { status: 'CANCELLED' });
    expect((await c.klarna('POST', authorizePath, chargeBody, { 'Klarna-Customer-Token': token })).body.payment_transaction_response.result).toBe('DECLINED');
    expectV2Error(await c.klarna('POST', authorizePath, chargeBody, { 'Klarna-Customer-Token': 'krn:customer-token:nope' }), 404, 'RESOURCE_ERROR');
  });

  it.each([
    ['APPROVED', 'STEP_UP_REQUIRED'],
    ['STEP_UP_REQUIRED', 'APPROVED'],
    ['APPROVED', 'DECLINED'],
    ['DECLINED', 'APPROVED'],
  ] as const)('seed 002 mismatched results by scenario: payment %s + token %s', async (payment, token) => {
    await c.control('POST', '/v2/authorize/next', { payment, token });
    const r = await c.klarna('POST', authorizePath, tokenAndPurchase);
    expect(r.body.payment_transaction_response.result).toBe(payment);
    expect(r.body.customer_token_response.result).toBe(token);
    // A transaction id exactly when the payment was approved, a customer token exactly when the token was.
    expect(typeof r.body.payment_transaction_response.payment_transaction?.payment_transaction_id).toBe(payment === 'APPROVED' ? 'string' : 'undefined');
    expect(typeof r.body.customer_token_response.customer_token).toBe(token === 'APPROVED' ? 'string' : 'undefined');
    const stepUp = payment === 'STEP_UP_REQUIRED' || token === 'STEP_UP_REQUIRED';
    expect(r.body.payment_request !== undefined).toBe(stepUp);
    if (stepUp) {
      // The step-up asks the shopper for exactly what still needs them: the token only (no amount)
      // when the payment went through, the payment only when the token did.
      expect(r.body.payment_request.amount).toBe(payment === 'STEP_UP_REQUIRED' ? tokenAndPurchase.request_payment_transaction.amount : undefined);
      expect(r.body.payment_request.request_customer_token).toEqual(token === 'STEP_UP_REQUIRED' ? tokenAndPurchase.request_customer_token : undefined);
    }
  });

  it('400 when neither a transaction nor a token is requested', async () => {
    expectV2Error(await c.klarna('POST', authorizePath, { currency: 'USD' }), 400, 'INPUT_ERROR');
  });
});

describe('webhooks', () => {
  it('payment.request.state-change.* envelopes, signed HMAC-SHA256 (hex) with the registered key', async () => {
    const reg = await c.control('POST', '/webhooks', { url: hooks.url });
    expect(reg.body).toMatchObject({ webhook_id: expect.stringMatching(/^krn:partner:global:notification:webhook:/), signing_key_id: expect.any(String), signing_key: expect.any(String) });
    const created = await c.klarna('POST', '/v2/payment/requests', { currency: 'USD', amount: 999, payment_request_reference: 'ref-w', request_customer_token: { scopes: ['payment:customer_not_present'] } });
    const id = created.body.payment_request_id;
    await c.control('POST', `/v2/payment-requests/${encodeURIComponent(id)}/complete`, { outcome: 'approve' });
    const got = await until(async () => (hooks.received.length >= 3 ? hooks.received : undefined), 'three webhooks');
    expect(got.map((w) => w.body.metadata.event_type).sort()).toEqual([
      'payment.request.state-change.completed',
      'payment.request.state-change.in-progress',
      'payment.request.state-change.submitted',
    ]);
    for (const w of got) {
      expect(w.headers['klarna-signing-key-id']).toBe(reg.body.signing_key_id);
      expect(w.headers['klarna-signature']).toBe(createHmac('sha256', reg.body.signing_key).update(w.raw).digest('hex'));
      expect(w.body.metadata).toMatchObject({ event_id: expect.any(String), event_version: 'v2', occurred_at: expect.any(String), webhook_id: reg.body.webhook_id, live: false });
    }
    const completed = got.find((w) => w.body.metadata.event_type.endsWith('completed'))!;
    expect(completed.body.payload).toMatchObject({
      payment_request_id: id,
      state: 'COMPLETED',
      previous_state: 'IN_PROGRESS',
      payment_request_reference: 'ref-w',
      state_context: { klarna_network_session_token: expect.any(String), klarna_customer: { customer_token: expect.any(String) } },
    });
  });

  it('retries a failing endpoint on the schedule (scaled) and can send duplicates on demand', async () => {
    await c.control('POST', '/webhooks', { url: hooks.url, event_types: ['payment.request.state-change.submitted'] });
    hookStatus = 500;
    await c.klarna('POST', '/v2/payment/requests', { currency: 'USD', amount: 1 });
    await until(async () => (hooks.received.length >= 2 ? true : undefined), 'a retry');
    hookStatus = 200;
    const [delivery] = await until(async () => {
      const r = (await c.control('GET', '/callbacks')).body.filter((d: { kind: string }) => d.kind === 'webhook');
      return r[0]?.state === 'delivered' ? r : undefined;
    }, 'delivery', 15_000);
    expect(delivery.attempts.at(-1).status).toBe(200);
    const before = hooks.received.length;
    await c.control('POST', `/callbacks/${delivery.id}/redeliver`);
    await until(async () => (hooks.received.length > before ? true : undefined), 'the duplicate');
    const dup = hooks.received.at(-1)!;
    expect(dup.body.metadata.event_id).toBe(hooks.received[0]!.body.metadata.event_id);
  });
});

describe('Payment Request API: more of Klarna’s rules', () => {
  const create = (body: Record<string, unknown> = { currency: 'USD', amount: 500 }, path = '/v2/payment/requests') => c.klarna('POST', path, body);
  const complete = (id: string, body: Record<string, unknown> = {}) => c.control('POST', `/v2/payment-requests/${encodeURIComponent(id)}/complete`, body);

  it('the same API under /v2/accounts/{partner_account_id}/payment/requests (POST, GET, PUT, DELETE)', async () => {
    const base = '/v2/accounts/krn:partner:global:account:test:ACQ1/payment/requests';
    const r = await create({ currency: 'EUR', amount: 1200 }, base);
    expect(r.status).toBe(201);
    const id = r.body.payment_request_id;
    expect((await c.klarna('GET', `${base}/${id}`)).body).toEqual(r.body);
    expect((await c.klarna('GET', `/v2/payment/requests/${id}`)).body.payment_request_id).toBe(id);
    expect((await c.klarna('PUT', `${base}/${id}`, { currency: 'EUR', amount: 1300 })).body.amount).toBe(1300);
    expect((await c.klarna('DELETE', `${base}/${id}`)).body.state).toBe('CANCELED');
  });

  it('interaction_expiry {duration} or {timestamp} sets expires_at (15 min–48 h); outside that → 400 naming the parameter', async () => {
    const short = await create({ currency: 'USD', amount: 1, customer_interaction_config: { method: 'HANDOVER', interaction_expiry: { duration: 'PT15M' } } });
    expect(Date.parse(short.body.expires_at) - Date.parse(short.body.created_at)).toBe(15 * 60_000);
    const now = Date.parse((await c.control('GET', '/clock')).body.now);
    const at = new Date(now + 24 * 3600_000).toISOString();
    const stamped = await create({ currency: 'USD', amount: 1, customer_interaction_config: { method: 'HANDOVER', interaction_expiry: { timestamp: at } } });
    expect(stamped.body.expires_at).toBe(at);
    for (const bad of [{ duration: 'PT10M' }, { duration: 'P3D' }, { timestamp: new Date(now - 1000).toISOString() }]) {
      const r = await create({ currency: 'USD', amount: 1, customer_interaction_config: { method: 'HANDOVER', interaction_expiry: bad } });
      expectV2Error(r, 400, 'INPUT_ERROR', 'INVALID_CONTENT');
      expect(r.body.errors).toEqual([{ parameter: 'customer_interaction_config.interaction_expiry', error_message: expect.any(String) }]);
    }
    const malformed = await create({ currency: 'USD', amount: 1, customer_interaction_config: { method: 'HANDOVER', interaction_expiry: { duration: '15 minutes' } } });
    expect(malformed.body.errors).toEqual([expect.objectContaining({ parameter: 'customer_interaction_config.interaction_expiry.duration' })]);
    // The step-up payment request of an authorize call takes it from step_up_config.
    const auth = await c.klarna('POST', authorizePath, {
      ...tokenAndPurchase,
      step_up_config: { customer_interaction_config: { method: 'HANDOVER', interaction_expiry: { duration: 'PT30M' } } },
    });
    expect(Date.parse(auth.body.payment_request.expires_at) - Date.parse(auth.body.payment_request.created_at)).toBe(30 * 60_000);
    const badAuth = await c.klarna('POST', authorizePath, { ...tokenAndPurchase, step_up_config: { customer_interaction_config: { interaction_expiry: { duration: 'PT1M' } } } });
    expect(badAuth.body.errors).toEqual([expect.objectContaining({ parameter: 'step_up_config.customer_interaction_config.interaction_expiry' })]);
  });

  it('expiry happens by itself: advancing the clock expires the request and sends …state-change.expired without a read', async () => {
    await c.control('POST', '/webhooks', { url: hooks.url, event_types: ['payment.request.state-change.expired'] });
    const r = await create();
    await c.control('POST', '/clock/advance', { seconds: 3 * 3600 - 1 });
    expect(hooks.received).toHaveLength(0);
    await c.control('POST', '/clock/advance', { seconds: 1 });
    const [hook] = await until(async () => (hooks.received.length ? hooks.received : undefined), 'the expired webhook');
    expect(hook!.body.payload).toMatchObject({ payment_request_id: r.body.payment_request_id, state: 'EXPIRED', previous_state: 'SUBMITTED' });
    // Controls answer errors in the v1 shape, whatever API they act on.
    expectKlarnaError(await c.control('POST', `/v2/payment-requests/${encodeURIComponent(r.body.payment_request_id)}/open`), 409, 'INVALID_STATE');
  });

  it('DELETE: canceled_at; a COMPLETED request can be canceled until finalized (its network session token then fails); final states 409', async () => {
    const open = await create();
    const canceled = await c.klarna('DELETE', `/v2/payment/requests/${open.body.payment_request_id}`);
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ state: 'CANCELED', state_reason: 'PARTNER_CANCELED', canceled_at: canceled.body.updated_at });
    expectV2Error(await c.klarna('DELETE', `/v2/payment/requests/${open.body.payment_request_id}`), 409, 'RESOURCE_ERROR', 'INVALID_STATE');

    const first = await c.klarna('POST', authorizePath, tokenAndPurchase);
    const prId = first.body.payment_request.payment_request_id;
    const done = await complete(prId);
    const del = await c.klarna('DELETE', `/v2/payment/requests/${prId}`);
    expect(del.body).toMatchObject({ state: 'CANCELED', previous_state: 'COMPLETED' });
    const nst = done.body.state_context.klarna_network_session_token;
    expectV2Error(await c.klarna('POST', authorizePath, tokenAndPurchase, { 'Klarna-Network-Session-Token': nst }), 400, 'INPUT_ERROR', 'INVALID_NETWORK_SESSION_TOKEN');

    const second = await c.klarna('POST', authorizePath, tokenAndPurchase);
    const id2 = second.body.payment_request.payment_request_id;
    const done2 = await complete(id2);
    expect((await c.klarna('POST', authorizePath, tokenAndPurchase, { 'Klarna-Network-Session-Token': done2.body.state_context.klarna_network_session_token })).status).toBe(200);
    expectV2Error(await c.klarna('DELETE', `/v2/payment/requests/${id2}`), 409, 'RESOURCE_ERROR', 'INVALID_STATE');

    const declined = await create();
    await complete(declined.body.payment_request_id, { outcome: 'decline' });
    expectV2Error(await c.klarna('DELETE', `/v2/payment/requests/${declined.body.payment_request_id}`), 409, 'RESOURCE_ERROR', 'INVALID_STATE');
    expectKlarnaError(await complete(declined.body.payment_request_id), 409, 'INVALID_STATE');
  });

  it('open control → IN_PROGRESS; back → SUBMITTED (previous_state IN_PROGRESS), and it can be updated again', async () => {
    const r = await create();
    const id = r.body.payment_request_id;
    const opened = await c.control('POST', `/v2/payment-requests/${encodeURIComponent(id)}/open`);
    expect(opened.body).toMatchObject({ state: 'IN_PROGRESS', previous_state: 'SUBMITTED' });
    expectV2Error(await c.klarna('PUT', `/v2/payment/requests/${id}`, { currency: 'USD', amount: 1 }), 409, 'RESOURCE_ERROR', 'INVALID_STATE');
    expect((await complete(id, { outcome: 'back' })).body).toMatchObject({ state: 'SUBMITTED', previous_state: 'IN_PROGRESS' });
    expect((await c.klarna('PUT', `/v2/payment/requests/${id}`, { currency: 'USD', amount: 2 })).status).toBe(200);
  });

  it('404 / 400 on PUT and DELETE: unknown id, bad body', async () => {
    expectV2Error(await c.klarna('PUT', '/v2/payment/requests/krn:payment:eu1:request:nope', { currency: 'USD', amount: 1 }), 404, 'RESOURCE_ERROR', 'RESOURCE_NOT_FOUND');
    expectV2Error(await c.klarna('DELETE', '/v2/payment/requests/krn:payment:eu1:request:nope'), 404, 'RESOURCE_ERROR', 'RESOURCE_NOT_FOUND');
    const r = await create();
    const bad = await c.klarna('PUT', `/v2/payment/requests/${r.body.payment_request_id}`, { currency: 'USD', amount: -1 });
    expectV2Error(bad, 400, 'INPUT_ERROR', 'INVALID_CONTENT');
    expect(bad.body.errors).toEqual([expect.objectContaining({ parameter: 'amount' })]);
    const scopes = await create({ currency: 'USD', request_customer_token: { scopes: ['payment:anything'] } });
    expect(scopes.body.errors).toEqual([expect.objectContaining({ parameter: 'request_customer_token.scopes[0]' })]);
  });

  it('Klarna-Idempotency-Key on v2: a replayed create returns the same payment request', async () => {
    const key = { 'Klarna-Idempotency-Key': 'v2-key-1' };
    const a = await c.klarna('POST', '/v2/payment/requests', { currency: 'USD', amount: 5 }, key);
    const b = await c.klarna('POST', '/v2/payment/requests', { currency: 'USD', amount: 5 }, key);
    expect(b.status).toBe(201);
    expect(b.body).toEqual(a.body);
    expect(b.headers.get('x-sim-idempotent-replay')).toBe('true');
    const conflict = await c.klarna('POST', '/v2/payment/requests', { currency: 'USD', amount: 6 }, key);
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ error_id: conflict.headers.get('klarna-correlation-id'), error_type: 'RESOURCE_ERROR', error_code: 'BAD_VALUE' });
  });
});

describe('Payment Authorize API: more cases', () => {
  it('token only (no request_payment_transaction): STEP_UP_REQUIRED, a payment request without amount; finalizing approves the token alone', async () => {
    const body = { currency: 'USD', request_customer_token: tokenAndPurchase.request_customer_token, step_up_config: tokenAndPurchase.step_up_config };
    const first = await c.klarna('POST', authorizePath, body);
    expect(first.body.payment_transaction_response).toBeUndefined();
    expect(first.body.customer_token_response).toEqual({ result: 'STEP_UP_REQUIRED' });
    expect(first.body.payment_request.amount).toBeUndefined();
    expect(first.body.payment_request.request_customer_token).toEqual(tokenAndPurchase.request_customer_token);
    const done = await c.control('POST', `/v2/payment-requests/${encodeURIComponent(first.body.payment_request.payment_request_id)}/complete`, {});
    expect(done.body.state_context.klarna_customer).toEqual({ customer_token: expect.any(String), customer_token_reference: 'ctr-1' });
    const final = await c.klarna('POST', authorizePath, body, { 'Klarna-Network-Session-Token': done.body.state_context.klarna_network_session_token });
    expect(final.body).toEqual({ customer_token_response: { result: 'APPROVED', customer_token: done.body.state_context.klarna_customer.customer_token } });
    const token = await c.control('GET', `/v2/tokens/${encodeURIComponent(final.body.customer_token_response.customer_token)}`);
    expect(token.body).toMatchObject({ scopes: ['payment:customer_not_present'], customer_token_reference: 'ctr-1', status: 'ACTIVE' });
  });

  it('finalizing with a different amount than approved: the payment steps up again (a new payment request); the token is approved', async () => {
    const first = await c.klarna('POST', authorizePath, tokenAndPurchase);
    const done = await c.control('POST', `/v2/payment-requests/${encodeURIComponent(first.body.payment_request.payment_request_id)}/complete`, {});
    const changed = { ...tokenAndPurchase, request_payment_transaction: { amount: 99999 } };
    const r = await c.klarna('POST', authorizePath, changed, { 'Klarna-Network-Session-Token': done.body.state_context.klarna_network_session_token });
    expect(r.body.payment_transaction_response).toEqual({ result: 'STEP_UP_REQUIRED' });
    expect(r.body.customer_token_response.result).toBe('APPROVED');
    expect(r.body.payment_request).toMatchObject({ state: 'SUBMITTED', amount: 99999 });
    expect(r.body.payment_request.request_customer_token).toBeUndefined();
  });

  it('a scripted result also applies to a token charge (Klarna-Customer-Token)', async () => {
    await c.control('POST', '/v2/authorize/next', { token: 'APPROVED', payment: 'APPROVED' });
    const token = (await c.klarna('POST', authorizePath, tokenAndPurchase)).body.customer_token_response.customer_token;
    const next = await c.control('POST', '/v2/authorize/next', { payment: 'DECLINED', count: 2 });
    expect(next.body.next_authorize_results).toEqual([{ payment: 'DECLINED' }, { payment: 'DECLINED' }]);
    const charge = { currency: 'USD', request_payment_transaction: { amount: 100 } };
    expect((await c.klarna('POST', authorizePath, charge, { 'Klarna-Customer-Token': token })).body).toEqual({ payment_transaction_response: { result: 'DECLINED' } });
    expectKlarnaError(await c.control('POST', '/v2/authorize/next', { payment: 'MAYBE' }), 400, 'BAD_VALUE');
  });

  it('/_sim/v2/tokens: unknown → 404; a bad status → 400; a cancelled token can be reactivated by Klarna’s side', async () => {
    expect((await c.control('GET', '/v2/tokens/krn:customer-token:nope')).status).toBe(404);
    await c.control('POST', '/v2/authorize/next', { token: 'APPROVED', payment: 'APPROVED' });
    const token = (await c.klarna('POST', authorizePath, tokenAndPurchase)).body.customer_token_response.customer_token;
    expect((await c.control('POST', `/v2/tokens/${encodeURIComponent(token)}/status`, { status: 'SUSPENDED' })).status).toBe(400);
    expect((await c.control('POST', `/v2/tokens/${encodeURIComponent(token)}/status`, { status: 'CANCELLED' })).body.status).toBe('CANCELLED');
    expect((await c.control('POST', `/v2/tokens/${encodeURIComponent(token)}/status`, { status: 'ACTIVE' })).body.status).toBe('ACTIVE');
  });
});

describe('webhook registrations', () => {
  it('GET lists, DELETE removes all (204); event_types filters; a given signing_key_id is used', async () => {
    await c.control('POST', '/webhooks', { url: hooks.url, event_types: ['payment.request.state-change.canceled'], signing_key: 'k'.repeat(32), signing_key_id: 'key-7' });
    const list = await c.control('GET', '/webhooks');
    expect(list.body).toEqual([expect.objectContaining({ url: hooks.url, signing_key_id: 'key-7', event_types: ['payment.request.state-change.canceled'] })]);
    const r = await c.klarna('POST', '/v2/payment/requests', { currency: 'USD', amount: 1 });
    await c.klarna('DELETE', `/v2/payment/requests/${r.body.payment_request_id}`);
    const [only] = await until(async () => (hooks.received.length ? hooks.received : undefined), 'the canceled webhook');
    expect(only!.body.metadata.event_type).toBe('payment.request.state-change.canceled');
    expect(only!.headers['klarna-signing-key-id']).toBe('key-7');
    expect(only!.headers['klarna-signature']).toBe(createHmac('sha256', 'k'.repeat(32)).update(only!.raw).digest('hex'));
    expect((await c.control('DELETE', '/webhooks')).status).toBe(204);
    expect((await c.control('GET', '/webhooks')).body).toEqual([]);
    expect((await c.control('POST', '/webhooks', { url: 'not a url' })).status).toBe(400);
  });

  it('webhooks configured at start (option webhooks / SIMULATOR_WEBHOOK_URL) are sent and survive reset', async () => {
    const configured = await startSim({ webhooks: [{ url: hooks.url, signing_key: 's'.repeat(32), signing_key_id: 'portal-key' }] });
    try {
      const cc = clientFor(configured);
      await cc.control('POST', '/reset');
      expect((await cc.control('GET', '/webhooks')).body).toEqual([
        { webhook_id: expect.stringMatching(/^krn:partner:global:notification:webhook:/), url: hooks.url, signing_key_id: 'portal-key', signing_key: 's'.repeat(32), event_types: [] },
      ]);
      await cc.klarna('POST', '/v2/payment/requests', { currency: 'USD', amount: 1 });
      const [hook] = await until(async () => (hooks.received.length ? hooks.received : undefined), 'the configured webhook');
      expect(hook!.headers['klarna-signing-key-id']).toBe('portal-key');
      expect(hook!.headers['klarna-signature']).toBe(createHmac('sha256', 's'.repeat(32)).update(hook!.raw).digest('hex'));
    } finally {
      await configured.close();
    }
  });
});
