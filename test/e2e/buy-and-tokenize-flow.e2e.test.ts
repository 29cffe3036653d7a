import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { terminalBuyAndTokenizeStates } from '../../contracts/buy-and-tokenize.js';
import { callbackSecretFor } from '../../klarna/callback-auth.js';
import type { CustomerTokenDocument } from '../../persistence/customer-tokens-repository.js';
import { collections } from '../../persistence/mongo.js';
import type { OrderDocument } from '../../persistence/orders-repository.js';
import { eventually, http, startAppStack, tokenizationBody, type AppStack } from '../harness/app-stack.js';

// Buy and tokenize over HTTP on the real stack (API → Temporal → worker → Klarna simulator →
// Klarna's callback → API → workflow → FerretDB): the happy path, each partial outcome made real by
// the simulator (a REJECTED shopper, a payment method that cannot be tokenized, an authorization
// that expires while the order call is on its way), lost replies, and bad input. Counts at Klarna
// come from the simulator's own records (`/_sim/requests`, `/_sim/orders`, `/_sim/sessions/{id}`).

let stack: AppStack;
beforeAll(async () => {
  stack = await startAppStack();
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});
afterEach(async () => {
  await http('DELETE', `${stack.simulatorUrl}/_sim/faults`);
});

interface SimRequest {
  method: string;
  path: string;
  status: number | null;
  idempotency_key?: string;
  fault?: string;
  body?: any;
  response?: any;
}
interface SimAuthorization {
  authorization_token: string;
  order_id?: string;
  customer_token_id?: string;
  released: boolean;
}

const api = (path: string) => `${stack.apiUrl}${path}`;
const sim = (path: string) => `${stack.simulatorUrl}${path}`;

async function startFlow(overrides: object = {}) {
  const reference = `bat-${randomUUID()}`;
  const started = await http('POST', api('/v1/buy-and-tokenize'), tokenizationBody(reference, overrides), { 'idempotency-key': reference });
  expect(started.status, JSON.stringify(started.body)).toBe(201);
  return { reference, flowId: started.body.flow_id as string, sessionId: started.body.session_id as string, started };
}

async function authorize(sessionId: string, body: object = {}): Promise<string> {
  const r = await http('POST', sim(`/_sim/sessions/${sessionId}/authorize`), { outcome: 'approve', ...body });
  expect(r.status).toBe(200);
  return r.body.authorization_token;
}

function outcome(flowId: string, timeoutMs?: number) {
  return eventually(
    async () => {
      const r = await http('GET', api(`/v1/buy-and-tokenize/${flowId}`));
      return terminalBuyAndTokenizeStates.includes(r.body?.state) ? r.body : undefined;
    },
    `${flowId} to end`,
    timeoutMs,
  );
}

/** Klarna's side of one session: its authorizations, the requests for them, its orders. */
async function atKlarna(sessionId: string) {
  const session = (await http('GET', sim(`/_sim/sessions/${sessionId}`))).body as { authorizations: SimAuthorization[] };
  const tokens = new Set(session.authorizations.map((a) => a.authorization_token));
  const requests = ((await http('GET', sim('/_sim/requests'))).body as SimRequest[]).filter((r) =>
    [...tokens].some((t) => r.path.includes(`/authorizations/${t}/`) || r.path.endsWith(`/authorizations/${t}`)),
  );
  const orders = ((await http('GET', sim('/_sim/orders'))).body as { order_id: string; session_id: string }[]).filter((o) => o.session_id === sessionId);
  return {
    authorizations: session.authorizations,
    tokenCalls: requests.filter((r) => r.method === 'POST' && r.path.endsWith('/customer-token')),
    orderCalls: requests.filter((r) => r.method === 'POST' && r.path.endsWith('/order')),
    releases: requests.filter((r) => r.method === 'DELETE'),
    orders,
  };
}

const tokenStatusAtKlarna = async (tokenId: string) =>
  (await http('GET', sim(`/customer-token/v1/tokens/${tokenId}`), undefined, { authorization: stack.klarnaAuth })).body.status as string;
const orderDocs = (flowId: string) => stack.mongo.db.collection<OrderDocument>(collections.orders).find({ flow_id: flowId }).toArray();
const tokenDoc = (flowId: string) => stack.mongo.db.collection<CustomerTokenDocument>(collections.customerTokens).findOne({ flow_id: flowId });

describe('buy and tokenize, end to end', () => {
  it('COMPLETED: one token and one order from the authorization Klarna called back with; both stored; the same start again is the same flow', async () => {
    const { reference, flowId, sessionId, started } = await startFlow({ auto_capture: true });
    expect(flowId).toBe(`buy-and-tokenize-${reference}`);
    expect(started.body).toMatchObject({ state: 'AWAITING_AUTHORIZATION', flow_type: 'buy_and_tokenize', require_token: true, client_token: expect.any(String) });
    const session = await http('GET', sim(`/payments/v1/sessions/${sessionId}`), undefined, { authorization: stack.klarnaAuth });
    expect(session.body).toMatchObject({ intent: 'buy_and_tokenize', merchant_reference1: reference });

    const body = tokenizationBody(reference, { auto_capture: true });
    const again = await http('POST', api('/v1/buy-and-tokenize'), body, { 'idempotency-key': reference });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ flow_id: flowId, session_id: sessionId });
    const conflict = await http('POST', api('/v1/buy-and-tokenize'), { ...body, require_token: false }, { 'idempotency-key': reference });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toBe('idempotency_conflict');

    const authorizationToken = await authorize(sessionId);
    const done = await outcome(flowId);
    expect(done).toMatchObject({ state: 'COMPLETED', authorization: { source: 'klarna_callback' }, order: { fraud_status: 'ACCEPTED' }, customer_token: { token_ref: expect.stringMatching(/^ctok_/) } });

    // Klarna: one token and one order, both from this authorization.
    const klarna = await atKlarna(sessionId);
    expect(klarna.tokenCalls).toHaveLength(1);
    expect(klarna.orderCalls).toHaveLength(1);
    expect(klarna.orderCalls[0]!.body).toMatchObject({ auto_capture: true, order_amount: 19900, merchant_reference1: reference });
    expect(klarna.orders.map((o) => o.order_id)).toEqual([done.order.order_id]);
    const [authorization] = klarna.authorizations;
    expect(authorization).toMatchObject({ authorization_token: authorizationToken, order_id: done.order.order_id, released: false });
    // Ours: the order under Klarna's order id, the token sealed, linked to each other.
    expect(await orderDocs(flowId)).toEqual([
      expect.objectContaining({ _id: done.order.order_id, session_id: sessionId, token_ref: done.customer_token.token_ref, order_amount: 19900, auto_capture: true }),
    ]);
    const token = await tokenDoc(flowId);
    expect(token).toMatchObject({ _id: done.customer_token.token_ref, status: 'ACTIVE' });
    expect(stack.vault.open(token!.token)).toBe(authorization!.customer_token_id);
    expect(await tokenStatusAtKlarna(authorization!.customer_token_id!)).toBe('ACTIVE');

    // The flow has ended: a late authorization is refused; the list shows it.
    const late = await http('POST', api(`/v1/buy-and-tokenize/${flowId}/authorization`), { authorization_token: authorizationToken });
    expect(late.status).toBe(409);
    expect(late.body.error).toBe('flow_closed');
    const listed = await http('GET', api(`/v1/flows?merchant_reference=${reference}&type=buy_and_tokenize&state=COMPLETED`));
    expect(listed.status).toBe(200);
    expect(listed.body.flows).toEqual([expect.objectContaining({ flow_id: flowId, flow_type: 'buy_and_tokenize', state: 'COMPLETED' })]);
  });

  it('takes the authorization the checkout submits too (and Klarna callbacks need the flow’s own secret)', async () => {
    const { flowId, sessionId } = await startFlow();
    const forged = await http('POST', api(`/klarna/callbacks/authorization/${flowId}?secret=${encodeURIComponent(stack.callbackSecret)}`), {
      authorization_token: 'forged',
      session_id: sessionId,
    });
    expect(forged.status).toBe(401);
    const authorizationToken = await authorize(sessionId, { callback: 'skip' });
    const submitted = await http('POST', api(`/v1/buy-and-tokenize/${flowId}/authorization`), { authorization_token: authorizationToken, session_id: sessionId });
    expect(submitted.status).toBe(202);
    const done = await outcome(flowId);
    expect(done).toMatchObject({ state: 'COMPLETED', authorization: { source: 'checkout' } });
    // Klarna's own (late) callback for it reaches the ended flow's inbox and is kept.
    const callback = await http('POST', api(`/klarna/callbacks/authorization/${flowId}?secret=${callbackSecretFor(stack.callbackSecret, flowId)}`), {
      authorization_token: authorizationToken,
      session_id: sessionId,
    });
    expect(callback.status).toBe(200);
    expect(callback.body).toMatchObject({ duplicate: true });
  });

  it('token created, order refused (the shopper is REJECTED): the token is cancelled at Klarna and in the vault, the authorization released, FAILED', async () => {
    const { flowId, sessionId } = await startFlow();
    await authorize(sessionId, { fraud_status: 'REJECTED' });
    const done = await outcome(flowId);
    expect(done).toMatchObject({
      state: 'FAILED',
      failure: { kind: 'rejected', klarna_error_code: 'REJECTED' },
      compensation: { token: { cancelled: true }, authorization_released: true },
    });
    expect(done.customer_token).toBeUndefined();
    expect(done.order).toBeUndefined();

    const klarna = await atKlarna(sessionId);
    expect(klarna.orders).toEqual([]);
    expect(klarna.tokenCalls).toHaveLength(1);
    const [authorization] = klarna.authorizations;
    expect(authorization!.released).toBe(true);
    expect(await tokenStatusAtKlarna(authorization!.customer_token_id!)).toBe('CANCELLED');
    expect(await tokenDoc(flowId)).toMatchObject({ _id: done.compensation.token.token_ref, status: 'CANCELLED', status_reason: 'purchase_failed' });
    expect(await orderDocs(flowId)).toEqual([]);
  });

  it('token refused (a payment method that cannot be tokenized), require_token: FAILED, no order, the authorization released', async () => {
    const { flowId, sessionId } = await startFlow();
    await authorize(sessionId, { payment_method_type: 'BANK_TRANSFER' });
    const done = await outcome(flowId);
    expect(done).toMatchObject({ state: 'FAILED', failure: { kind: 'invalid_request', klarna_error_code: 'BAD_REQUEST' }, compensation: { authorization_released: true } });
    const klarna = await atKlarna(sessionId);
    expect(klarna.orderCalls).toEqual([]);
    expect(klarna.orders).toEqual([]);
    expect(klarna.authorizations[0]!.released).toBe(true);
    expect(klarna.authorizations[0]!.customer_token_id).toBeUndefined();
    expect(await tokenDoc(flowId)).toBeNull();
  });

  it('order placed, token refused, require_token false: COMPLETED_WITHOUT_TOKEN, the order kept and stored', async () => {
    const { flowId, sessionId } = await startFlow({ require_token: false });
    await authorize(sessionId, { payment_method_type: 'BANK_TRANSFER' });
    const done = await outcome(flowId);
    expect(done).toMatchObject({ state: 'COMPLETED_WITHOUT_TOKEN', require_token: false, token_failure: { kind: 'invalid_request', klarna_error_code: 'BAD_REQUEST' } });
    expect(done.customer_token).toBeUndefined();
    const klarna = await atKlarna(sessionId);
    expect(klarna.orders.map((o) => o.order_id)).toEqual([done.order.order_id]);
    expect(await orderDocs(flowId)).toEqual([expect.objectContaining({ _id: done.order.order_id })]);
    expect((await orderDocs(flowId))[0]!.token_ref).toBeUndefined();
    expect(await tokenDoc(flowId)).toBeNull();
  });

  it('authorization expired between the token and the order: the token is cancelled, EXPIRED, no order', async () => {
    // The order call waits 2 s at "Klarna"; meanwhile Klarna's clock passes the 60 minutes.
    await http('POST', sim('/_sim/faults'), { route: '/payments/v1/authorizations/:authorizationToken/order', latencyMs: 2_000, count: 1 });
    const { flowId, sessionId } = await startFlow();
    await authorize(sessionId);
    await eventually(async () => ((await atKlarna(sessionId)).authorizations[0]?.customer_token_id ? true : undefined), 'the token at Klarna');
    await http('POST', sim('/_sim/clock/advance'), { seconds: 3_601 });
    const done = await outcome(flowId);
    expect(done).toMatchObject({ state: 'EXPIRED', failure: { kind: 'authorization_not_found', klarna_error_code: 'NOT_FOUND' }, compensation: { token: { cancelled: true } } });
    expect(done.compensation.authorization_released).toBeUndefined();
    const klarna = await atKlarna(sessionId);
    expect(klarna.orders).toEqual([]);
    expect(klarna.orderCalls.map((c) => c.status)).toEqual([404]);
    expect(await tokenStatusAtKlarna(klarna.authorizations[0]!.customer_token_id!)).toBe('CANCELLED');
  });

  it('shopper abandoned: ABANDONED, nothing made at Klarna; a late authorization is refused', async () => {
    const { flowId, sessionId } = await startFlow({ abandonment_timeout: '2s' });
    const done = await outcome(flowId);
    expect(done.state).toBe('ABANDONED');
    const klarna = await atKlarna(sessionId);
    expect([klarna.authorizations, klarna.orders]).toEqual([[], []]);
    const late = await http('POST', api(`/v1/buy-and-tokenize/${flowId}/authorization`), { authorization_token: 'late' });
    expect(late.status).toBe(409);
  });

  it('cancel while waiting: 200 CANCELLED, then 409', async () => {
    const { flowId } = await startFlow();
    const cancelled = await http('POST', api(`/v1/buy-and-tokenize/${flowId}/cancel`), { reason: 'shopper_cancelled' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ state: 'CANCELLED', cancellation: { reason: 'shopper_cancelled' } });
    const again = await http('POST', api(`/v1/buy-and-tokenize/${flowId}/cancel`), { reason: 'shopper_cancelled' });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('not_cancellable');
    expect((await http('POST', api('/v1/buy-and-tokenize/buy-and-tokenize-nope/cancel'), { reason: 'shopper_cancelled' })).status).toBe(404);
  });

  describe('lost replies: the retry with the same idempotency key gets Klarna’s first answer, exactly one effect', () => {
    it.each([
      ['order', '/payments/v1/authorizations/:authorizationToken/order'],
      ['token', '/payments/v1/authorizations/:authorizationToken/customer-token'],
    ])('the %s reply is lost once', async (_what, route) => {
      await http('POST', sim('/_sim/faults'), { route, phase: 'after', drop: true, count: 1 });
      const { flowId, sessionId } = await startFlow();
      await authorize(sessionId);
      const done = await outcome(flowId, 40_000);
      expect(done.state).toBe('COMPLETED');

      const klarna = await atKlarna(sessionId);
      const calls = route.endsWith('/order') ? klarna.orderCalls : klarna.tokenCalls;
      // Two requests: the first processed and its answer dropped, the retry answered from the key.
      expect(calls.map((c) => c.fault ?? null)).toEqual(['drop-after', null]);
      expect(new Set(calls.map((c) => c.idempotency_key)).size).toBe(1);
      expect(calls[1]!.status).toBe(200);
      // Exactly one of each at Klarna and with us.
      expect(klarna.orders.map((o) => o.order_id)).toEqual([done.order.order_id]);
      expect(klarna.authorizations).toHaveLength(1);
      const tokenId = klarna.authorizations[0]!.customer_token_id!;
      expect(stack.vault.open((await tokenDoc(flowId))!.token)).toBe(tokenId);
      expect(await orderDocs(flowId)).toHaveLength(1);
      expect(await stack.mongo.db.collection(collections.customerTokens).countDocuments({ flow_id: flowId })).toBe(1);
    });
  });

  it('takes the longest key (128 characters): its 145-character flow id reaches every route, Klarna’s callback included', async () => {
    const key = `k${randomUUID().replaceAll('-', '')}`.padEnd(128, 'x');
    const started = await http('POST', api('/v1/buy-and-tokenize'), tokenizationBody(`bat-long-${randomUUID()}`), { 'idempotency-key': key });
    expect(started.status).toBe(201);
    const flowId: string = started.body.flow_id;
    expect(flowId).toHaveLength(145);
    expect((await http('GET', api(`/v1/buy-and-tokenize/${flowId}`))).status).toBe(200);
    const callback = await http('POST', api(`/klarna/callbacks/authorization/${flowId}?secret=${callbackSecretFor(stack.callbackSecret, flowId)}`), {
      authorization_token: 'not-at-klarna',
      session_id: 'another-session',
    });
    expect(callback.status).toBe(200);
    expect((await http('POST', api(`/v1/buy-and-tokenize/${flowId}/cancel`), { reason: 'merchant_cancelled' })).status).toBe(200);
  });

  it('bad input is a 400 naming each field, starts nothing, and leaves the key free', async () => {
    const reference = `bat-bad-${randomUUID()}`;
    const bad = tokenizationBody(reference, { purchase_currency: 'EUR', require_token: 'yes' });
    const refused = await http('POST', api('/v1/buy-and-tokenize'), bad, { 'idempotency-key': reference });
    expect(refused.status).toBe(400);
    expect(refused.body.issues.map((i: { field: string }) => i.field).sort()).toEqual(['body.purchase_currency', 'body.require_token']);
    expect((await http('GET', api(`/v1/buy-and-tokenize/buy-and-tokenize-${reference}`))).status).toBe(404);
    const fixed = await http('POST', api('/v1/buy-and-tokenize'), tokenizationBody(reference), { 'idempotency-key': reference });
    expect(fixed.status).toBe(201);
    expect((await http('GET', api('/v1/buy-and-tokenize/not-a-flow-id'))).status).toBe(400);
    await http('POST', api(`/v1/buy-and-tokenize/${fixed.body.flow_id}/cancel`), { reason: 'merchant_cancelled' });
  });
});
