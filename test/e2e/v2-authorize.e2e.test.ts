import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collections } from '../../persistence/mongo.js';
import type { Sealed } from '../../persistence/token-vault.js';
import type { V2CustomerTokenDocument } from '../../persistence/v2-repository.js';
import { eventually, http, startAppStack, type AppStack } from '../harness/app-stack.js';

// Klarna v2 Payment Authorize API end to end over HTTP (API, Temporal, worker, FerretDB, Klarna
// simulator with signed webhooks to the API): every result combination of seed 002, the step-up
// through a payment request and its finalization, a lost reply, and the v2 token charge.

let stack: AppStack;
beforeAll(async () => {
  stack = await startAppStack({ v2: { fallbackReadAfterMs: 1_500 } });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const sim = (method: string, path: string, body?: unknown) => http(method, `${stack.simulatorUrl}${path}`, body);
const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => http(method, `${stack.apiUrl}${path}`, body, headers);

const subscriptionData = {
  subscriptions: [
    {
      subscription_reference: 'PREMIUM_INDIVIDUAL',
      name: '9.99 for music',
      free_trial: 'INACTIVE',
      billing_plans: [{ billing_amount: 999, currency: 'USD', from: '2026-08-01', interval: 'MONTH', interval_count: 1 }],
    },
  ],
};

// Each call its own amount: a DECLINED context is refused for every later flow (seed 002), so
// tests must not share one by accident.
let nextAmount = 1_000;
const authorizeBody = (overrides: object = {}) => ({
  merchant_reference: 'order-v2-1',
  currency: 'USD',
  request_payment_transaction: { amount: (nextAmount += 7), payment_transaction_reference: 'tx-ref-1' },
  request_customer_token: { use_case: 'subscription', customer_token_reference: 'shopper-42' },
  supplementary_purchase_data: subscriptionData,
  interoperability_token: 'interop-token-from-merchant',
  step_up: { return_url: 'https://shop.example/return?pr={klarna.payment_request.id}', app_return_url: 'shopapp://klarna' },
  ...overrides,
});

const authorize = (body: object, key = `v2a-${randomUUID()}`) => api('POST', '/v2/authorizations', body, { 'idempotency-key': key }).then((r) => ({ ...r, key }));
const scripted = (results: { payment?: string; token?: string }) => sim('POST', '/_sim/v2/authorize/next', results);
const authorizeCalls = async () =>
  ((await sim('GET', '/_sim/requests?method=POST&path_prefix=/v2/accounts/')).body as { path: string; status: number | null; body: any; response?: any; idempotency_key?: string; fault?: string }[]);
const callsOf = async (flowBodyMarker: (b: any) => boolean) => (await authorizeCalls()).filter((r) => flowBodyMarker(r.body));
const settled = (flowId: string, states: string[]) =>
  eventually(async () => {
    const answer = await api('GET', `/v2/authorizations/${flowId}`);
    return states.includes(answer.body?.state) ? answer.body : undefined;
  }, `${flowId} in ${states.join('/')}`, 40_000);
const storedToken = async (tokenRef: string) => stack.mongo.db.collection<V2CustomerTokenDocument>(collections.v2CustomerTokens).findOne({ _id: tokenRef });
/** The customer token Klarna issued, from our vault (for the simulator's record of it). */
const klarnaToken = async (tokenRef: string) => stack.vault.open((await storedToken(tokenRef))!.token as Sealed);
const approve = (paymentRequestId: string, outcome = 'approve') => sim('POST', `/_sim/v2/payment-requests/${encodeURIComponent(paymentRequestId)}/complete`, { outcome });

describe('v2 Payment Authorize API, token with purchase', () => {
  it('both STEP_UP_REQUIRED: the payment request goes to the checkout, the webhook completes it, the flow finalizes within the hour', async () => {
    const body = authorizeBody({ request_payment_transaction: { amount: 999, payment_transaction_reference: 'tx-ref-1' } });
    const started = await authorize(body);
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({
      flow_id: `v2-authorize-${started.key}`,
      flow_type: 'v2_authorize',
      state: 'AWAITING_SHOPPER',
      next_action: 'redirect_to_payment_request',
      payment: { result: 'STEP_UP_REQUIRED', amount: 999 },
      customer_token: { result: 'STEP_UP_REQUIRED', scopes: ['payment:customer_not_present'] },
      payment_request: { payment_request_id: expect.stringMatching(/^krn:payment:eu1:request:/), payment_request_url: expect.any(String), state: 'SUBMITTED' },
    });
    const flowId = started.body.flow_id;
    // The same call again is the same flow.
    const again = await authorize(body, started.key);
    expect(again.status).toBe(200);
    expect(again.body.payment_request.payment_request_id).toBe(started.body.payment_request.payment_request_id);

    // What Klarna got: the scope for subscriptions, the supplementary data and the return URLs unmodified, step_up_config with our reference.
    const [first] = await callsOf((b) => b?.step_up_config?.payment_request_reference === flowId);
    expect(first!.body).toEqual({
      currency: 'USD',
      request_payment_transaction: { amount: 999, payment_transaction_reference: 'tx-ref-1' },
      request_customer_token: { scopes: ['payment:customer_not_present'], customer_token_reference: 'shopper-42' },
      supplementary_purchase_data: subscriptionData,
      step_up_config: {
        payment_request_reference: flowId,
        customer_interaction_config: { method: 'HANDOVER', return_url: 'https://shop.example/return?pr={klarna.payment_request.id}', app_return_url: 'shopapp://klarna' },
      },
    });
    expect(first!.idempotency_key).toMatch(/^[0-9a-f-]{36}$/);

    const prId = started.body.payment_request.payment_request_id;
    await sim('POST', `/_sim/v2/payment-requests/${encodeURIComponent(prId)}/open`);
    const completed = await approve(prId);
    expect(completed.body.redirect_to).toBe(`https://shop.example/return?pr=${encodeURIComponent(prId)}`);
    const done = await settled(flowId, ['COMPLETED', 'FAILED', 'EXPIRED']);
    expect(done).toMatchObject({
      state: 'COMPLETED',
      next_action: 'none',
      payment: { result: 'APPROVED', payment_transaction_id: expect.stringMatching(/^krn:payment:eu1:transaction:/), payment_transaction_reference: 'tx-ref-1' },
      customer_token: { result: 'APPROVED', token_ref: expect.stringMatching(/^ctok_/), masked: expect.any(String) },
      payment_request: { state: 'COMPLETED', completed_by: 'webhook' },
      step_ups: 1,
    });

    // The finalization: the network session token's call, asking again for both parts, same data.
    const calls = await callsOf((b) => b?.step_up_config?.payment_request_reference === flowId);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.body).toMatchObject({ request_payment_transaction: { amount: 999 }, request_customer_token: { scopes: ['payment:customer_not_present'] } });
    expect(calls[1]!.response.payment_transaction_response.payment_transaction.payment_transaction_id).toBe(done.payment.payment_transaction_id);

    // The token is vaulted with its scopes, sealed; Klarna's record agrees on the scopes.
    const doc = await storedToken(done.customer_token.token_ref);
    expect(doc).toMatchObject({ scopes: ['payment:customer_not_present'], customer_token_reference: 'shopper-42', payment_request_id: prId });
    const token = await klarnaToken(done.customer_token.token_ref);
    expect(token).toMatch(/^krn:customer-token:/);
    expect(JSON.stringify(doc)).not.toContain(token);
    expect(JSON.stringify(done)).not.toContain(token);
    const atKlarna = await sim('GET', `/_sim/v2/tokens/${encodeURIComponent(token)}`);
    expect(atKlarna.body).toMatchObject({ scopes: ['payment:customer_not_present'], status: 'ACTIVE' });
    // Stored before shown, and listed.
    const listed = await api('GET', `/v1/flows?type=v2_authorize&merchant_reference=order-v2-1&limit=100`);
    expect(listed.body.flows.map((f: { flow_id: string }) => f.flow_id)).toContain(flowId);
  });

  it('both APPROVED: the transaction and the token at once, no payment request', async () => {
    await scripted({ payment: 'APPROVED', token: 'APPROVED' });
    const started = await authorize(authorizeBody({ request_customer_token: { use_case: 'on_demand' } }));
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({
      state: 'COMPLETED',
      payment: { result: 'APPROVED', payment_transaction_id: expect.any(String) },
      customer_token: { result: 'APPROVED', scopes: ['payment:customer_present'], token_ref: expect.any(String) },
    });
    expect(started.body.payment_request).toBeUndefined();
    const token = await klarnaToken(started.body.customer_token.token_ref);
    expect((await sim('GET', `/_sim/v2/tokens/${encodeURIComponent(token)}`)).body.scopes).toEqual(['payment:customer_present']);
  });

  it('both DECLINED: final; the same context is not replayed under a new key, a changed one is', async () => {
    await scripted({ payment: 'DECLINED', token: 'DECLINED' });
    const body = authorizeBody({ merchant_reference: 'declined-1', request_payment_transaction: { amount: 4711 } });
    const declined = await authorize(body);
    expect(declined.body).toMatchObject({ state: 'DECLINED', payment: { result: 'DECLINED' }, customer_token: { result: 'DECLINED' }, failure: { kind: 'payment_declined' } });
    const before = (await authorizeCalls()).length;
    // Same context, another key and merchant reference: refused without a Klarna call.
    const replay = await authorize({ ...body, merchant_reference: 'declined-2' });
    expect(replay.status).toBe(409);
    expect(replay.body).toMatchObject({ error: 'declined_before' });
    expect((await authorizeCalls()).length).toBe(before);
    // The same key again is the same (declined) flow, not a new call.
    expect((await authorize(body, declined.key)).status).toBe(200);
    // A change of context (another amount) may be tried.
    await scripted({ payment: 'APPROVED', token: 'APPROVED' });
    const changed = await authorize({ ...body, request_payment_transaction: { amount: 4712 } });
    expect(changed.body.state).toBe('COMPLETED');
  });

  it('payment APPROVED + token STEP_UP_REQUIRED: keeps the transaction, steps up for the token only', async () => {
    await scripted({ payment: 'APPROVED', token: 'STEP_UP_REQUIRED' });
    const started = await authorize(authorizeBody());
    expect(started.body).toMatchObject({ state: 'AWAITING_SHOPPER', payment: { result: 'APPROVED', payment_transaction_id: expect.any(String) }, customer_token: { result: 'STEP_UP_REQUIRED' } });
    const transactionId = started.body.payment.payment_transaction_id;
    const prId = started.body.payment_request.payment_request_id;
    await approve(prId);
    const done = await settled(started.body.flow_id, ['COMPLETED', 'PARTIALLY_COMPLETED', 'FAILED', 'EXPIRED']);
    expect(done).toMatchObject({ state: 'COMPLETED', payment: { result: 'APPROVED', payment_transaction_id: transactionId }, customer_token: { result: 'APPROVED', token_ref: expect.any(String) } });
    const calls = await callsOf((b) => b?.step_up_config?.payment_request_reference === started.body.flow_id);
    expect(calls).toHaveLength(2);
    // The finalization asks only for the token: the purchase is approved already.
    expect(calls[1]!.body.request_payment_transaction).toBeUndefined();
    expect(calls[1]!.body.request_customer_token).toMatchObject({ scopes: ['payment:customer_not_present'] });
  });

  it('token APPROVED + payment STEP_UP_REQUIRED: keeps the token, steps up for the purchase only', async () => {
    await scripted({ payment: 'STEP_UP_REQUIRED', token: 'APPROVED' });
    const started = await authorize(authorizeBody());
    expect(started.body).toMatchObject({ state: 'AWAITING_SHOPPER', payment: { result: 'STEP_UP_REQUIRED' }, customer_token: { result: 'APPROVED', token_ref: expect.any(String) } });
    expect(await storedToken(started.body.customer_token.token_ref)).not.toBeNull();
    await approve(started.body.payment_request.payment_request_id);
    const done = await settled(started.body.flow_id, ['COMPLETED', 'PARTIALLY_COMPLETED', 'FAILED', 'EXPIRED']);
    expect(done).toMatchObject({ state: 'COMPLETED', payment: { result: 'APPROVED', payment_transaction_id: expect.any(String) }, customer_token: { token_ref: started.body.customer_token.token_ref } });
    const calls = await callsOf((b) => b?.step_up_config?.payment_request_reference === started.body.flow_id);
    expect(calls[1]!.body.request_customer_token).toBeUndefined();
    expect(calls[1]!.body.request_payment_transaction).toMatchObject({ amount: started.body.payment.amount });
  });

  it('payment APPROVED + token DECLINED: the transaction is kept, the partner is told the token failed', async () => {
    await scripted({ payment: 'APPROVED', token: 'DECLINED' });
    const started = await authorize(authorizeBody({ merchant_reference: 'mixed-1' }));
    expect(started.body).toMatchObject({
      state: 'PARTIALLY_COMPLETED',
      payment: { result: 'APPROVED', payment_transaction_id: expect.any(String) },
      customer_token: { result: 'DECLINED' },
      failure: { kind: 'token_declined' },
    });
    expect(started.body.customer_token.token_ref).toBeUndefined();
  });

  it('token APPROVED + payment DECLINED: the token is kept, the partner is told the purchase failed', async () => {
    await scripted({ payment: 'DECLINED', token: 'APPROVED' });
    const started = await authorize(authorizeBody({ merchant_reference: 'mixed-2' }));
    expect(started.body).toMatchObject({
      state: 'PARTIALLY_COMPLETED',
      payment: { result: 'DECLINED' },
      customer_token: { result: 'APPROVED', token_ref: expect.any(String) },
      failure: { kind: 'payment_declined' },
    });
    expect(await storedToken(started.body.customer_token.token_ref)).toMatchObject({ scopes: ['payment:customer_not_present'] });
  });

  it('the shopper declines or aborts in the payment request: DECLINED / CANCELLED', async () => {
    const declined = await authorize(authorizeBody({ merchant_reference: 'pr-declined' }));
    await approve(declined.body.payment_request.payment_request_id, 'decline');
    expect(await settled(declined.body.flow_id, ['DECLINED', 'COMPLETED', 'FAILED'])).toMatchObject({
      state: 'DECLINED',
      payment: { result: 'DECLINED', reason: 'payment_request_declined' },
      customer_token: { result: 'DECLINED' },
    });
    const aborted = await authorize(authorizeBody({ merchant_reference: 'pr-aborted' }));
    await approve(aborted.body.payment_request.payment_request_id, 'cancel');
    expect(await settled(aborted.body.flow_id, ['CANCELLED', 'COMPLETED', 'FAILED'])).toMatchObject({ state: 'CANCELLED', failure: { kind: 'payment_cancelled' } });
  });

  it('a lost reply: Klarna processed the authorize call, the answer never came; the retry with the same key gets it, one transaction', async () => {
    await scripted({ payment: 'APPROVED', token: 'APPROVED' });
    await sim('POST', '/_sim/faults', { route: '/v2/accounts/:accountId/payment/authorize', phase: 'after', drop: true, count: 1 });
    const started = await authorize(authorizeBody({ merchant_reference: 'lost-reply' }));
    const done = started.body.state === 'COMPLETED' ? started.body : await settled(started.body.flow_id, ['COMPLETED', 'FAILED']);
    expect(done).toMatchObject({ state: 'COMPLETED', payment: { result: 'APPROVED' }, customer_token: { result: 'APPROVED' } });
    const calls = await callsOf((b) => b?.step_up_config?.payment_request_reference === done.flow_id);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.fault).toBe('drop-after');
    expect(calls[1]!.idempotency_key).toBe(calls[0]!.idempotency_key);
    const transactions = new Set(calls.map((c) => c.response?.payment_transaction_response?.payment_transaction?.payment_transaction_id).filter(Boolean));
    expect([...transactions]).toEqual([done.payment.payment_transaction_id]);
    const tokens = new Set(calls.map((c) => c.response?.customer_token_response?.customer_token).filter(Boolean));
    expect(tokens.size).toBe(1);
  });
});

describe('v2 Payment Authorize API, token only', () => {
  it('APPROVED at once, and STEP_UP_REQUIRED completed through the payment request', async () => {
    await scripted({ token: 'APPROVED' });
    const direct = await authorize({ merchant_reference: 'token-only-1', currency: 'USD', request_customer_token: { scopes: ['payment:customer_present', 'payment:customer_not_present'] } });
    expect(direct.body).toMatchObject({ state: 'COMPLETED', customer_token: { result: 'APPROVED', scopes: ['payment:customer_present', 'payment:customer_not_present'] } });
    expect(direct.body.payment).toBeUndefined();

    const stepped = await authorize({ merchant_reference: 'token-only-2', currency: 'USD', request_customer_token: { use_case: 'on_demand' } });
    expect(stepped.body).toMatchObject({ state: 'AWAITING_SHOPPER', customer_token: { result: 'STEP_UP_REQUIRED' } });
    await approve(stepped.body.payment_request.payment_request_id);
    const done = await settled(stepped.body.flow_id, ['COMPLETED', 'FAILED', 'EXPIRED']);
    expect(done).toMatchObject({ state: 'COMPLETED', customer_token: { result: 'APPROVED', scopes: ['payment:customer_present'] } });
    const token = await klarnaToken(done.customer_token.token_ref);
    expect((await sim('GET', `/_sim/v2/tokens/${encodeURIComponent(token)}`)).body.scopes).toEqual(['payment:customer_present']);
  });

  it('refuses a request with neither part, and return URLs Klarna would refuse', async () => {
    const neither = await authorize({ merchant_reference: 'x', currency: 'USD' });
    expect(neither.status).toBe(400);
    const badUrl = await authorize(authorizeBody({ step_up: { return_url: 'not a url' } }));
    expect(badUrl.status).toBe(400);
    expect(JSON.stringify(badUrl.body.issues)).toContain('return_url');
    // An app scheme is fine for app_return_url (Klarna takes any registered scheme).
    await scripted({ payment: 'APPROVED', token: 'APPROVED' });
    const appScheme = await authorize(authorizeBody({ merchant_reference: 'app-scheme', step_up: { app_return_url: 'my-app://klarna/return?x={klarna.payment_request.id}' } }));
    expect(appScheme.status).toBe(201);
  });
});

describe('v2 token charge', () => {
  /** A v2 token made through the authorize flow (scripted APPROVED), vaulted with the given use. */
  async function v2Token(useCase: 'subscription' | 'on_demand') {
    await scripted({ token: 'APPROVED' });
    const made = await authorize({ merchant_reference: `token-${useCase}`, currency: 'USD', request_customer_token: { use_case: useCase } });
    expect(made.body.state).toBe('COMPLETED');
    return { tokenRef: made.body.customer_token.token_ref as string, token: await klarnaToken(made.body.customer_token.token_ref) };
  }
  const charge = (body: object, key = `v2c-${randomUUID()}`) => api('POST', '/v2/charges?wait=10s', body, { 'idempotency-key': key }).then((r) => ({ ...r, key }));
  const chargeBody = (tokenRef: string, customerPresent: boolean, overrides: object = {}) => ({
    merchant_reference: 'renewal-2026-09',
    token_ref: tokenRef,
    currency: 'USD',
    amount: 999,
    customer_present: customerPresent,
    supplementary_purchase_data: subscriptionData,
    ...overrides,
  });

  it('a subscription renewal without the shopper: APPROVED, the charge id is the idempotency key, one transaction after a lost reply', async () => {
    const { tokenRef, token } = await v2Token('subscription');
    await sim('POST', '/_sim/faults', { route: '/v2/accounts/:accountId/payment/authorize', phase: 'after', drop: true, count: 1 });
    const charged = await charge(chargeBody(tokenRef, false));
    expect(charged.status).toBe(201);
    expect(charged.body).toMatchObject({ flow_id: `v2-charge-${charged.key}`, flow_type: 'v2_charge', state: 'COMPLETED', token_ref: tokenRef, payment: { result: 'APPROVED', payment_transaction_id: expect.any(String) } });
    const calls = (await authorizeCalls()).filter((c) => c.idempotency_key === charged.body.flow_id);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.fault).toBe('drop-after');
    // No step-up offered without the shopper; the token went as Klarna-Customer-Token (never in the body).
    expect(calls[0]!.body.step_up_config).toBeUndefined();
    expect(JSON.stringify(calls[0]!.body)).not.toContain(token);
    // The dropped answer is not recorded; the replay's names the one transaction.
    expect(new Set(calls.map((c) => c.response?.payment_transaction_response?.payment_transaction?.payment_transaction_id).filter(Boolean))).toEqual(
      new Set([charged.body.payment.payment_transaction_id]),
    );
    // The same key again: the same charge, no new call.
    const again = await charge(chargeBody(tokenRef, false), charged.key);
    expect(again.status).toBe(200);
    expect((await authorizeCalls()).filter((c) => c.idempotency_key === charged.body.flow_id)).toHaveLength(2);
  });

  it('honours the scope: a customer-present token is not charged without the shopper', async () => {
    const { tokenRef } = await v2Token('on_demand');
    const refused = await charge(chargeBody(tokenRef, false));
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: 'token_scope_mismatch' });
    expect((await charge(chargeBody('ctok_00000000000000000000000000000000', false))).status).toBe(404);
  });

  it('a customer-present token may step up: the payment request, then the finalization', async () => {
    const { tokenRef } = await v2Token('on_demand');
    await scripted({ payment: 'STEP_UP_REQUIRED' });
    const charged = await charge(chargeBody(tokenRef, true, { step_up: { return_url: 'https://shop.example/back' } }));
    expect(charged.body).toMatchObject({ state: 'AWAITING_SHOPPER', payment: { result: 'STEP_UP_REQUIRED' }, payment_request: { payment_request_url: expect.any(String) } });
    await approve(charged.body.payment_request.payment_request_id);
    const done = await eventually(async () => {
      const read = await api('GET', `/v2/charges/${charged.body.flow_id}`);
      return ['COMPLETED', 'FAILED', 'EXPIRED'].includes(read.body?.state) ? read.body : undefined;
    }, 'the charge', 30_000);
    expect(done).toMatchObject({ state: 'COMPLETED', payment: { result: 'APPROVED', payment_transaction_id: expect.any(String) }, step_ups: 1 });
  });

  it('a cancelled token is DECLINED; the declined charge is not replayed under a new key', async () => {
    const { tokenRef, token } = await v2Token('subscription');
    await sim('POST', `/_sim/v2/tokens/${encodeURIComponent(token)}/status`, { status: 'CANCELLED' });
    const body = chargeBody(tokenRef, false, { amount: 1234 });
    const declined = await charge(body);
    expect(declined.body).toMatchObject({ state: 'DECLINED', payment: { result: 'DECLINED' }, failure: { kind: 'payment_declined' } });
    const replay = await charge({ ...body, merchant_reference: 'retry' });
    expect(replay.status).toBe(409);
    expect(replay.body.error).toBe('declined_before');
  });
});
