import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerTokensRepository } from '../../persistence/customer-tokens-repository.js';
import { eventually, http, simulatorCredentials, startAppStack, type AppStack, vaultedToken } from '../harness/app-stack.js';

// Step-up recovery end to end over HTTP (API, Temporal, worker, FerretDB, Klarna simulator): a
// charge with the shopper present is refused with a step_up_id, the checkout starts the recovery,
// the shopper acts through the simulator's controls (SDK widget or Hosted Payment Page).

let stack: AppStack;
beforeAll(async () => {
  stack = await startAppStack();
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const sim = (method: string, path: string, body?: unknown) => http(method, `${stack.simulatorUrl}${path}`, body);
const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => http(method, `${stack.apiUrl}${path}`, body, headers);

const chargeBody = (tokenRef: string, customerPresent = true) => ({
  token_ref: tokenRef,
  purchase_currency: 'SEK',
  order_amount: 19900,
  order_tax_amount: 0,
  order_lines: [{ type: 'digital', name: 'Coffee, monthly', quantity: 1, unit_price: 19900, total_amount: 19900 }],
  merchant_reference: 'renewal-2026-12',
  customer_present: customerPresent,
});

/** A charge Klarna refused with a step_up_id (the token's payment method failing, shopper present). */
async function refusedCharge(customerPresent = true) {
  const { tokenRef, token } = await vaultedToken(stack);
  await sim('POST', `/_sim/tokens/${token}/payment-method`, { failing: true });
  const key = `stepup-${randomUUID()}`;
  const refused = await api('POST', '/v1/charges?wait=10s', chargeBody(tokenRef, customerPresent), { 'idempotency-key': key });
  return { tokenRef, token, chargeId: `charge-${key}`, refused };
}

const stepUp = (chargeId: string, body: object) => api('POST', `/v1/charges/${chargeId}/step-up`, body);
const read = (chargeId: string) => api('GET', `/v1/charges/${chargeId}/step-up`);
const settled = (chargeId: string, state: string) =>
  eventually(async () => {
    const answer = await read(chargeId);
    return answer.body?.state === state ? answer.body : undefined;
  }, `step-up ${state}`, 40_000);
const ordersFrom = async (path: string) =>
  ((await sim('GET', `/_sim/requests?method=POST&path_prefix=${path}`)).body as { path: string; status: number | null; body: any; idempotency_key?: string }[]);

describe('step-up recovery', () => {
  it('refuses a charge without a step_up_id, one without the shopper present, and an unknown charge', async () => {
    const notPresent = await refusedCharge(false);
    expect(notPresent.refused.body).toMatchObject({ state: 'FAILED', failure: { kind: 'payment_method_unavailable' } });
    const answer = await stepUp(notPresent.chargeId, { integration: 'sdk' });
    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ error: 'step_up_not_available' });
    expect((await stepUp('charge-nope-' + randomUUID(), { integration: 'sdk' })).status).toBe(404);
    expect((await read(notPresent.chargeId)).status).toBe(404);
  });

  it('SDK path: a recovery session with the step_up_id and token, the authorization callback, the order, the token marked', async () => {
    const { token, tokenRef, chargeId, refused } = await refusedCharge();
    expect(refused.body).toMatchObject({ state: 'FAILED', failure: { kind: 'step_up_required' } });
    const started = await stepUp(chargeId, { integration: 'sdk' });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ flow_id: `stepup-${chargeId}`, flow_type: 'step_up', state: 'AWAITING_SHOPPER', next_action: 'authorize_in_widget', client_token: expect.any(String) });
    expect(JSON.stringify(started.body)).not.toContain(token);
    const again = await stepUp(chargeId, { integration: 'sdk' });
    expect(again.status).toBe(200);
    expect(again.body.session_id).toBe(started.body.session_id);
    expect((await stepUp(chargeId, { integration: 'hpp' })).status).toBe(409);

    const sessions = (await ordersFrom('/payments/v1/sessions')).filter((r) => r.status === 200);
    const created = sessions.find((r) => r.body?.step_up_id === refused.body.failure.step_up_id)!;
    expect(created.body).toMatchObject({ intent: 'tokenize', customer: { customer_token: token }, order_amount: 19900 });
    expect(created.idempotency_key).toMatch(/.+/);

    const authorized = await sim('POST', `/_sim/sessions/${started.body.session_id}/authorize`, { outcome: 'approve' });
    expect(authorized.body.approved).toBe(true);
    // The checkout posts the same authorization too: one order.
    await api('POST', `/v1/charges/${chargeId}/step-up/authorization`, { authorization_token: authorized.body.authorization_token, session_id: started.body.session_id });
    const done = await settled(chargeId, 'COMPLETED');
    expect(done).toMatchObject({ order: { order_id: expect.any(String), placed_by: 'merchant' }, next_action: 'none' });
    const orderCalls = (await ordersFrom('/payments/v1/authorizations/')).filter((r) => r.path.endsWith('/order') && r.status === 200);
    expect(orderCalls.filter((r) => r.path.includes(authorized.body.authorization_token))).toHaveLength(1);
    const stored = await customerTokensRepository(stack.mongo.db).findByRef(tokenRef);
    expect(stored).toMatchObject({ status: 'ACTIVE' });
    expect(stored!.payment_method_changed_at).toBeInstanceOf(Date);
    // Operators find the recovery by flow type and state.
    const found = await eventually(async () => {
      const runs: string[] = [];
      for await (const run of stack.temporal.workflow.list({ query: `FlowType = 'step_up' AND FlowState = 'COMPLETED' AND WorkflowId = 'stepup-${chargeId}'` })) runs.push(run.workflowId);
      return runs.length ? runs : undefined;
    }, 'the recovery in visibility');
    expect(found).toEqual([`stepup-${chargeId}`]);
    // The flow list shows it (state and type in the one listing).
    const listed = await api('GET', `/v1/flows?type=step_up&merchant_reference=renewal-2026-12&limit=100`);
    expect(listed.status).toBe(200);
    expect(listed.body.flows.map((f: { flow_id: string }) => f.flow_id)).toContain(`stepup-${chargeId}`);
    const waitingList = await api('GET', `/v1/flows?type=step_up&state=AWAITING_SHOPPER`);
    expect(waitingList.status).toBe(200);
    // The token charges again.
    const next = await api('POST', '/v1/charges?wait=10s', chargeBody(tokenRef, false), { 'idempotency-key': `after-${randomUUID()}` });
    expect(next.body.state).toBe('COMPLETED');
    // A late authorization is refused once the recovery has ended.
    const late = await api('POST', `/v1/charges/${chargeId}/step-up/authorization`, { authorization_token: 'late-token' });
    expect(late.status).toBe(409);
  });

  it.each([
    ['NONE', 'merchant'],
    ['PLACE_ORDER', 'hpp'],
    ['CAPTURE_ORDER', 'hpp'],
  ] as const)('HPP path, place_order_mode %s: back and error are retried, approve completes', async (mode, placedBy) => {
    const { tokenRef, chargeId } = await refusedCharge();
    const started = await stepUp(chargeId, { integration: 'hpp', hpp: { place_order_mode: mode, success_url: 'https://shop.example/ok?s={{session_id}}' } });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ state: 'AWAITING_SHOPPER', next_action: 'redirect_to_hpp', hpp: { redirect_url: expect.any(String), place_order_mode: mode, status: 'WAITING' } });
    const hppId = started.body.hpp.session_id;
    const hppCall = (await ordersFrom('/hpp/v1/sessions')).find((r) => r.status === 201 && r.body.payment_session_url.endsWith(started.body.session_id))!;
    expect(hppCall.body.merchant_urls.status_update).toContain(`/klarna/callbacks/hpp-status/stepup-${chargeId}`);
    expect(hppCall.body.options.place_order_mode).toBe(mode);

    await sim('POST', `/_sim/hpp/${hppId}/open`);
    await sim('POST', `/_sim/hpp/${hppId}/complete`, { outcome: 'back' });
    await eventually(async () => ((await read(chargeId)).body.hpp.status === 'BACK' ? true : undefined), 'BACK shown');
    await sim('POST', `/_sim/hpp/${hppId}/open`);
    await sim('POST', `/_sim/hpp/${hppId}/complete`, { outcome: 'error' });
    await eventually(async () => ((await read(chargeId)).body.hpp.status === 'ERROR' ? true : undefined), 'ERROR shown');
    await sim('POST', `/_sim/hpp/${hppId}/open`);
    await sim('POST', `/_sim/hpp/${hppId}/complete`, { outcome: 'approve' });
    const done = await settled(chargeId, 'COMPLETED');
    expect(done.order).toMatchObject({ order_id: expect.any(String), placed_by: placedBy });
    expect(done.hpp.failed_attempts).toBeGreaterThanOrEqual(2);
    const orders = (await sim('GET', '/_sim/orders')).body as { order_id: string }[];
    expect(orders.filter((o) => o.order_id === done.order.order_id)).toHaveLength(1);
    expect((await customerTokensRepository(stack.mongo.db).findByRef(tokenRef))!.payment_method_changed_at).toBeInstanceOf(Date);
  });

  it('HPP path: a decline waits for another attempt; cancel ends CANCELLED', async () => {
    const { chargeId } = await refusedCharge();
    const started = await stepUp(chargeId, { integration: 'hpp' });
    const hppId = started.body.hpp.session_id;
    await sim('POST', `/_sim/hpp/${hppId}/open`);
    await sim('POST', `/_sim/hpp/${hppId}/complete`, { outcome: 'decline' });
    await eventually(async () => ((await read(chargeId)).body.hpp.status === 'FAILED' ? true : undefined), 'FAILED shown');
    expect((await read(chargeId)).body.state).toBe('AWAITING_SHOPPER');
    await sim('POST', `/_sim/hpp/${hppId}/open`);
    await sim('POST', `/_sim/hpp/${hppId}/complete`, { outcome: 'cancel' });
    const done = await settled(chargeId, 'CANCELLED');
    expect(done).toMatchObject({ failure: { kind: 'shopper_cancelled' }, hpp: { status: 'CANCELLED' } });
  });

  it('HPP path: a disabled HPP session ends FAILED hpp_disabled; a late status_update is acknowledged and ignored', async () => {
    const { chargeId } = await refusedCharge();
    const started = await stepUp(chargeId, { integration: 'hpp' });
    const hppId = started.body.hpp.session_id;
    // Klarna's side disables it (the merchant portal, another system): DELETE /hpp/v1/sessions/{id}.
    const disabled = await fetch(`${stack.simulatorUrl}/hpp/v1/sessions/${hppId}`, {
      method: 'DELETE',
      headers: { authorization: `Basic ${Buffer.from(`${simulatorCredentials.username}:${simulatorCredentials.password}`).toString('base64')}` },
    });
    expect(disabled.status).toBe(204);
    const done = await settled(chargeId, 'FAILED');
    expect(done.failure).toMatchObject({ kind: 'hpp_disabled' });
    // The same status_update again (a redelivery) is acknowledged.
    const callbacks = (await sim('GET', '/_sim/callbacks')).body as { id: string; kind: string; url: string }[];
    const mine = callbacks.filter((c) => c.url.includes(`stepup-${chargeId}`));
    expect(mine.length).toBeGreaterThan(0);
    expect((await sim('POST', `/_sim/callbacks/${mine[0]!.id}/redeliver`)).status).toBeLessThan(300);
    expect((await read(chargeId)).body.state).toBe('FAILED');
  });

  it('HPP path: duplicate status_updates are stored once and taken once; a lost HPP-session reply makes one HPP session', async () => {
    const { chargeId } = await refusedCharge();
    await sim('POST', '/_sim/faults', { path: '/hpp/v1/sessions', method: 'POST', phase: 'after', drop: true, count: 1 });
    await sim('POST', '/_sim/callbacks/scenario', { kind: 'hpp_status_update', duplicates: 2 });
    try {
      const started = await stepUp(chargeId, { integration: 'hpp', hpp: { place_order_mode: 'PLACE_ORDER' } });
      expect([200, 201, 202]).toContain(started.status);
      const waiting = await settled(chargeId, 'AWAITING_SHOPPER');
      const hppCalls = (await ordersFrom('/hpp/v1/sessions')).filter((r) => r.body?.payment_session_url?.endsWith(waiting.session_id));
      expect(hppCalls).toHaveLength(2); // the lost answer and the retry, one key: Klarna replays the same HPP session
      expect(new Set(hppCalls.map((r) => r.idempotency_key)).size).toBe(1);
      const hppId = waiting.hpp.session_id;
      await sim('POST', `/_sim/hpp/${hppId}/open`);
      await sim('POST', `/_sim/hpp/${hppId}/complete`, { outcome: 'approve' });
      const done = await settled(chargeId, 'COMPLETED');
      expect(done.order).toMatchObject({ placed_by: 'hpp' });
      const events = await stack.mongo.db.collection('klarna_events').find({ flow_id: `stepup-${chargeId}` }).toArray();
      expect(events.length).toBeGreaterThan(0);
      expect(new Set(events.map((e) => e._id)).size).toBe(events.length);
      const sent = ((await sim('GET', '/_sim/callbacks')).body as { url: string }[]).filter((c) => c.url.includes(`stepup-${chargeId}`));
      expect(sent.length).toBeGreaterThan(events.length); // every copy acknowledged, each event stored once
    } finally {
      await sim('DELETE', '/_sim/callbacks/scenario');
      await sim('DELETE', '/_sim/faults');
    }
  });

  it('HPP path: the HPP session expires at Klarna (simulator clock) → EXPIRED hpp_session_expired, found by the fallback read', async () => {
    const { chargeId } = await refusedCharge();
    const started = await stepUp(chargeId, { integration: 'hpp', shopper_timeout: '24h' });
    expect(started.status).toBe(201);
    await sim('POST', '/_sim/clock/advance', { seconds: 48 * 3600 });
    try {
      const done = await eventually(async () => {
        const answer = await read(chargeId);
        return answer.body?.state === 'EXPIRED' ? answer.body : undefined;
      }, 'EXPIRED', 45_000);
      expect(done.failure).toMatchObject({ kind: 'hpp_session_expired' });
    } finally {
      await sim('POST', '/_sim/reset').catch(() => undefined);
    }
  }, 60_000);

  it('SDK path: the widget says approved:false → the checkout ends the recovery DECLINED; a second cancel is 409', async () => {
    const { chargeId } = await refusedCharge();
    const started = await stepUp(chargeId, { integration: 'sdk' });
    expect(started.status).toBe(201);
    const cancelled = await api('POST', `/v1/charges/${chargeId}/step-up/cancel`, { reason: 'shopper_declined' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ state: 'DECLINED', cancellation: { reason: 'shopper_declined' }, next_action: 'none' });
    expect((await api('POST', `/v1/charges/${chargeId}/step-up/cancel`, { reason: 'shopper_cancelled' })).status).toBe(409);
    // One recovery per charge: starting again returns the ended one.
    const again = await stepUp(chargeId, { integration: 'sdk' });
    expect(again.status).toBe(200);
    expect(again.body.state).toBe('DECLINED');
  });

  it('a callback with the wrong secret is refused', async () => {
    const answer = await api('POST', `/klarna/callbacks/hpp-status/stepup-charge-x?secret=wrong`, { event_id: 'e1', session: { session_id: 's', status: 'COMPLETED' } });
    expect(answer.status).toBe(401);
  });

  it('a lost reply on the session and the order creation: exactly one session and one order at Klarna', async () => {
    const { chargeId } = await refusedCharge();
    await sim('POST', '/_sim/faults', { path: '/payments/v1/sessions', method: 'POST', phase: 'after', drop: true, count: 1 });
    await sim('POST', '/_sim/faults', { path: '/payments/v1/authorizations/*/order', method: 'POST', phase: 'after', drop: true, count: 1 });
    const started = await stepUp(chargeId, { integration: 'sdk' });
    expect([200, 201, 202]).toContain(started.status);
    const waiting = await settled(chargeId, 'AWAITING_SHOPPER');
    const sessionCalls = (await ordersFrom('/payments/v1/sessions')).filter((r) => r.body?.step_up_id !== undefined && r.path === '/payments/v1/sessions');
    const mine = sessionCalls.filter((r) => r.idempotency_key === sessionCalls.at(-1)!.idempotency_key);
    expect(mine.length).toBe(2); // the dropped one and its retry, with one key
    expect(new Set(mine.map((r) => r.idempotency_key)).size).toBe(1);
    const authorized = await sim('POST', `/_sim/sessions/${waiting.session_id}/authorize`, { outcome: 'approve' });
    const done = await settled(chargeId, 'COMPLETED');
    const orderCalls = (await ordersFrom('/payments/v1/authorizations/')).filter((r) => r.path === `/payments/v1/authorizations/${authorized.body.authorization_token}/order`);
    expect(orderCalls).toHaveLength(2); // the answer lost, then the retry: Klarna replays it (same key)
    expect(new Set(orderCalls.map((r) => r.idempotency_key)).size).toBe(1);
    const orders = ((await sim('GET', '/_sim/orders')).body as { order_id: string; session_id?: string }[]).filter((o) => o.order_id === done.order.order_id);
    expect(orders).toHaveLength(1);
    const session = (await sim('GET', `/_sim/sessions/${waiting.session_id}`)).body;
    expect(session.authorizations.filter((a: { order_id?: string }) => a.order_id)).toHaveLength(1);
    await sim('DELETE', '/_sim/faults');
  });
});
