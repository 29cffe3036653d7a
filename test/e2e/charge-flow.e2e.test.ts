import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerTokensRepository } from '../../persistence/customer-tokens-repository.js';
import { eventually, http, startAppStack, type AppStack, vaultedToken } from '../harness/app-stack.js';

// Token charges end to end over HTTP: the API, Temporal, the worker, FerretDB and the Klarna
// simulator, with Klarna's documented answers scripted by the simulator's controls.

let stack: AppStack;
beforeAll(async () => {
  stack = await startAppStack();
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const sim = (method: string, path: string, body?: unknown) => http(method, `${stack.simulatorUrl}${path}`, body);

const chargeBody = (tokenRef: string, overrides: object = {}) => ({
  token_ref: tokenRef,
  purchase_currency: 'SEK',
  order_amount: 19900,
  order_tax_amount: 0,
  order_lines: [{ type: 'digital', name: 'Coffee, monthly', quantity: 1, unit_price: 19900, total_amount: 19900 }],
  merchant_reference: 'renewal-2026-12',
  customer_present: false,
  ...overrides,
});

const charge = (key: string, body: object, query = '') =>
  http('POST', `${stack.apiUrl}/v1/charges${query}`, body, { 'idempotency-key': key });

/** Token orders Klarna received for this token (the simulator's request log). */
async function orderCalls(token: string) {
  const log = (await sim('GET', '/_sim/requests?method=POST&path_prefix=/customer-token/')).body as { path: string; status: number | null; idempotency_key?: string }[];
  return log.filter((r) => r.path === `/customer-token/v1/tokens/${token}/order`);
}
async function ordersAtKlarna(token: string) {
  return ((await sim('GET', '/_sim/orders')).body as { order_id: string; token_id?: string; idempotency_key?: string }[]).filter((o) => o.token_id === token);
}

describe('POST /v1/charges', () => {
  it('charges once: the outcome in the same call, the key as Klarna-Idempotency-Key, a retry returns the same order', async () => {
    const { tokenRef, token } = await vaultedToken(stack);
    const key = `renewal-${randomUUID()}`;
    const first = await charge(key, chargeBody(tokenRef));
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ flow_id: `charge-${key}`, state: 'COMPLETED', token_ref: tokenRef, order_amount: 19900, order: { fraud_status: 'ACCEPTED' } });
    const orders = await ordersAtKlarna(token);
    expect(orders).toHaveLength(1);
    expect(first.body.order.order_id).toBe(orders[0]!.order_id);
    expect(orders[0]!.idempotency_key).toBe(`charge-${key}`);

    const again = await charge(key, chargeBody(tokenRef));
    expect(again.status).toBe(200);
    expect(again.body.order.order_id).toBe(first.body.order.order_id);
    const other = await charge(key, chargeBody(tokenRef, { order_amount: 100, order_lines: [{ name: 'x', quantity: 1, unit_price: 100, total_amount: 100 }] }));
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ error: 'idempotency_conflict' });
    expect(await ordersAtKlarna(token)).toHaveLength(1);

    // Stored before shown: the flow document carries the order.
    const doc = await stack.mongo.db.collection('flows').findOne({ _id: `charge-${key}` as never });
    expect(doc).toMatchObject({ flow_type: 'charge', state: 'COMPLETED', status: { order: { order_id: orders[0]!.order_id } } });
    const read = await http('GET', `${stack.apiUrl}/v1/charges/charge-${key}`);
    expect(read.body.order.order_id).toBe(orders[0]!.order_id);
    expect(JSON.stringify(read.body)).not.toContain(token);

    // Listed among the flows, as a charge.
    const listed = await http('GET', `${stack.apiUrl}/v1/flows?type=charge&merchant_reference=renewal-2026-12&limit=100`);
    expect(listed.status).toBe(200);
    expect(listed.body.flows.find((f: { flow_id: string }) => f.flow_id === `charge-${key}`)).toMatchObject({ flow_type: 'charge', state: 'COMPLETED' });
  });

  it('50 concurrent POSTs with one key make one charge and one order', async () => {
    const { tokenRef, token } = await vaultedToken(stack);
    const key = `concurrent-${randomUUID()}`;
    const answers = await Promise.all(Array.from({ length: 50 }, () => charge(key, chargeBody(tokenRef), '?wait=20s')));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(49);
    expect(new Set(answers.map((a) => a.body.order.order_id)).size).toBe(1);
    expect(await ordersAtKlarna(token)).toHaveLength(1);
  });

  it('gets the order back when Klarna placed it but the reply was lost, and after two 503s: one order each', async () => {
    const lost = await vaultedToken(stack);
    const faulted = await sim('POST', '/_sim/faults', { path: `/customer-token/v1/tokens/${lost.token}/order`, phase: 'after', drop: true, count: 1 });
    expect(faulted.status).toBe(200);
    const afterLoss = await charge(`lost-${randomUUID()}`, chargeBody(lost.tokenRef), '?wait=20s');
    expect(afterLoss.status).toBe(201);
    expect(afterLoss.body.state).toBe('COMPLETED');
    const calls = (await orderCalls(lost.token)) as { fault?: unknown; idempotency_key?: string }[];
    expect(calls).toHaveLength(2);
    expect(calls[0]!.fault, 'the first reply was dropped').toBeDefined();
    expect(calls[1]!.fault).toBeUndefined();
    expect(calls.map((c) => c.idempotency_key)).toEqual([afterLoss.body.flow_id, afterLoss.body.flow_id]);
    expect(await ordersAtKlarna(lost.token)).toHaveLength(1);

    const flaky = await vaultedToken(stack);
    await sim('POST', `/_sim/tokens/${flaky.token}/next-order-error`, { error_code: 'SERVICE_UNAVAILABLE', count: 2 });
    const afterOutage = await charge(`flaky-${randomUUID()}`, chargeBody(flaky.tokenRef), '?wait=20s');
    expect(afterOutage.body).toMatchObject({ state: 'COMPLETED' });
    expect((await orderCalls(flaky.token)).map((c) => c.status)).toEqual([503, 503, 200]);
    expect(await ordersAtKlarna(flaky.token)).toHaveLength(1);
  });

  // Each documented refusal → FAILED with its kind; token problems recorded on the stored token.
  const refusals: [code: string, kind: string, tokenState: string][] = [
    ['TOKEN_NOT_FOUND', 'token_not_found', 'NOT_FOUND'],
    ['TOKEN_SUSPENDED', 'token_suspended', 'SUSPENDED'],
    ['TOKEN_CANCELED', 'token_cancelled', 'CANCELLED'],
    ['TOKEN_CANCELLED', 'token_cancelled', 'CANCELLED'],
    ['TOKEN_FORBIDDEN', 'token_forbidden', 'FORBIDDEN'],
    ['UNAVAILABLE_PAYMENT_METHOD', 'payment_method_unavailable', 'ACTIVE'],
    ['PAYMENT_METHOD_CURRENCY_MISMATCH', 'currency_mismatch', 'ACTIVE'],
    ['PAYMENT_METHOD_FAILED', 'payment_method_failed', 'ACTIVE'],
    ['REJECTED', 'rejected', 'ACTIVE'],
    ['BAD_REQUEST', 'invalid_request', 'ACTIVE'],
  ];
  it.each(refusals)('%s → FAILED %s, stored token %s', async (code, kind, tokenState) => {
    const { tokenRef, token } = await vaultedToken(stack);
    await sim('POST', `/_sim/tokens/${token}/next-order-error`, { error_code: code });
    const refused = await charge(`refused-${randomUUID()}`, chargeBody(tokenRef));
    expect(refused.status).toBe(201);
    expect(refused.body).toMatchObject({ state: 'FAILED', failure: { kind, klarna_error_code: code } });
    expect(refused.body.order).toBeUndefined();
    const stored = await customerTokensRepository(stack.mongo.db).findByRef(tokenRef);
    expect(stored?.status).toBe(tokenState);
    expect(await ordersAtKlarna(token)).toHaveLength(0);
  });

  it('a charge on a token known dead fails fast with the same kind, without calling Klarna', async () => {
    const { tokenRef, token } = await vaultedToken(stack);
    await sim('POST', `/_sim/tokens/${token}/next-order-error`, { error_code: 'TOKEN_CANCELED' });
    expect((await charge(`dead-1-${randomUUID()}`, chargeBody(tokenRef))).body.failure.kind).toBe('token_cancelled');
    const callsBefore = (await orderCalls(token)).length;
    const second = await charge(`dead-2-${randomUUID()}`, chargeBody(tokenRef));
    expect(second.body).toMatchObject({ state: 'FAILED', failure: { kind: 'token_cancelled' } });
    expect(second.body.failure.klarna_error_code).toBeUndefined();
    expect((await orderCalls(token)).length).toBe(callsBefore);
  });

  it('with the shopper present asks for step-up, and keeps the step_up_id of a rejection', async () => {
    const { tokenRef, token } = await vaultedToken(stack);
    await sim('POST', `/_sim/tokens/${token}/payment-method`, { failing: true });
    const refused = await charge(`present-${randomUUID()}`, chargeBody(tokenRef, { customer_present: true }));
    expect(refused.body).toMatchObject({ state: 'FAILED', failure: { kind: 'step_up_required', step_up_id: expect.stringMatching(/.+/) } });
    const [call] = (await sim('GET', '/_sim/requests?method=POST&path_prefix=/customer-token/')).body.filter(
      (r: { path: string }) => r.path === `/customer-token/v1/tokens/${token}/order`,
    );
    expect(call.body.step_up).toBe('SUPPORTED');
  });

  it('fails deadline_exceeded when Klarna keeps answering 500 past the retry deadline', async () => {
    const { tokenRef, token } = await vaultedToken(stack);
    await sim('POST', `/_sim/tokens/${token}/next-order-error`, { error_code: 'INTERNAL_SERVER_ERROR', count: 100 });
    const answer = await charge(`deadline-${randomUUID()}`, chargeBody(tokenRef, { retry_deadline: '3s' }), '?wait=15s');
    expect(answer.body).toMatchObject({ state: 'FAILED', failure: { kind: 'deadline_exceeded' } });
    expect((await orderCalls(token)).length).toBeGreaterThanOrEqual(2);
    expect(await ordersAtKlarna(token)).toHaveLength(0);
  });

  it('answers 202 with a Location when the outcome takes longer than ?wait, then GET shows it', async () => {
    const { tokenRef, token } = await vaultedToken(stack);
    await sim('POST', '/_sim/faults', { path: `/customer-token/v1/tokens/${token}/order`, latencyMs: 2_000, count: 1 });
    const key = `slow-${randomUUID()}`;
    const answer = await charge(key, chargeBody(tokenRef), '?wait=1ms');
    expect(answer.status).toBe(202);
    expect(answer.body.state).toBe('PLACING_ORDER');
    expect(answer.headers.get('location')).toBe(`/v1/charges/charge-${key}`);
    const done = await eventually(async () => {
      const r = await http('GET', `${stack.apiUrl}/v1/charges/charge-${key}`);
      return r.body?.state === 'COMPLETED' ? r.body : undefined;
    }, 'the charge to complete');
    expect(done.order.order_id).toBe((await ordersAtKlarna(token))[0]!.order_id);
  });

  it('refuses bad input before anything starts: 400/404 naming the field, no workflow, no Klarna call', async () => {
    const { tokenRef, token } = await vaultedToken(stack);
    const cases: [object, number, string][] = [
      [chargeBody(tokenRef, { order_amount: -5 }), 400, 'body.order_amount'],
      [chargeBody(tokenRef, { order_amount: 10.5 }), 400, 'body.order_amount'],
      [chargeBody(tokenRef, { order_amount: 20000 }), 400, 'body.order_amount'],
      [chargeBody(tokenRef, { order_lines: [{ name: 'x', quantity: 2, unit_price: 100, total_amount: 19900 }] }), 400, 'body.order_lines.0.total_amount'],
      [chargeBody(tokenRef, { purchase_currency: 'USD' }), 400, 'body.purchase_currency'],
      [chargeBody(`ctok_${'0'.repeat(32)}`), 404, 'body.token_ref'],
      [chargeBody('not-a-ref'), 400, 'body.token_ref'],
    ];
    for (const [body, status, field] of cases) {
      const key = `bad-${randomUUID()}`;
      const refused = await charge(key, body);
      expect(refused.status, JSON.stringify(body)).toBe(status);
      expect(refused.body.issues.map((i: { field: string }) => i.field)).toContain(field);
      await expect(stack.temporal.workflow.getHandle(`charge-${key}`).describe()).rejects.toThrow(/not found/i);
    }
    const missingKey = await http('POST', `${stack.apiUrl}/v1/charges`, chargeBody(tokenRef));
    expect(missingKey.status).toBe(400);
    expect(await orderCalls(token)).toHaveLength(0);
  });
});

describe('/v1/tokens', () => {
  it('shows a token with its charges, refreshes its status from Klarna, and cancels it so later charges fail fast', async () => {
    const { tokenRef, token } = await vaultedToken(stack);
    const key = `token-view-${randomUUID()}`;
    const charged = await charge(key, chargeBody(tokenRef));
    expect(charged.body.state).toBe('COMPLETED');

    const view = await http('GET', `${stack.apiUrl}/v1/tokens/${tokenRef}`);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ token_ref: tokenRef, masked: `…${token.slice(-4)}`, status: 'ACTIVE', purchase_currency: 'SEK' });
    expect(view.body.charges).toEqual([
      expect.objectContaining({ charge_id: `charge-${key}`, state: 'COMPLETED', order_id: charged.body.order.order_id, order_amount: 19900 }),
    ]);
    expect(JSON.stringify(view.body)).not.toContain(token);

    // Klarna suspends the token on its side; a refresh learns it.
    expect((await sim('POST', `/_sim/tokens/${token}/status`, { status: 'SUSPENDED' })).status).toBe(200);
    const refreshed = await http('POST', `${stack.apiUrl}/v1/tokens/${tokenRef}/refresh`);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({ status: 'SUSPENDED', status_reason: 'refreshed' });
    expect((await sim('POST', `/_sim/tokens/${token}/status`, { status: 'ACTIVE' })).status).toBe(200);
    expect((await http('POST', `${stack.apiUrl}/v1/tokens/${tokenRef}/refresh`)).body.status).toBe('ACTIVE');

    const cancelled = await http('DELETE', `${stack.apiUrl}/v1/tokens/${tokenRef}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'CANCELLED', status_reason: 'cancelled_by_merchant' });
    expect((await sim('GET', `/_sim/tokens/${token}`)).body.status).toBe('CANCELLED');
    const again = await http('DELETE', `${stack.apiUrl}/v1/tokens/${tokenRef}`);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('CANCELLED');
    const patches = ((await sim('GET', '/_sim/requests')).body as { method: string; path: string }[]).filter(
      (r) => r.method === 'PATCH' && r.path === `/customer-token/v1/tokens/${token}/status`,
    );
    expect(patches).toHaveLength(1);

    const callsBefore = (await orderCalls(token)).length;
    const late = await charge(`after-cancel-${randomUUID()}`, chargeBody(tokenRef));
    expect(late.body).toMatchObject({ state: 'FAILED', failure: { kind: 'token_cancelled' } });
    expect((await orderCalls(token)).length).toBe(callsBefore);
  });

  it('answers 404 for a token_ref it does not hold and 400 for one that is malformed', async () => {
    expect((await http('GET', `${stack.apiUrl}/v1/tokens/ctok_${'f'.repeat(32)}`)).status).toBe(404);
    expect((await http('DELETE', `${stack.apiUrl}/v1/tokens/ctok_${'f'.repeat(32)}`)).status).toBe(404);
    expect((await http('GET', `${stack.apiUrl}/v1/tokens/not-a-ref`)).status).toBe(400);
  });
});
