import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSubscriptionRequest, type SubscriptionStatus } from '../../contracts/subscription.js';
import { subscriptionInputFromRequest } from '../../contracts/subscription-rules.js';
import { eventually, http, startAppStack, type AppStack, vaultedToken } from '../harness/app-stack.js';

// Subscriptions end to end: the API, Temporal, the worker, FerretDB and the Klarna simulator.
// Real intervals are days; the short-interval case starts the workflow directly with the
// test-only `SECOND` interval (the API refuses it).

let stack: AppStack;
beforeAll(async () => {
  stack = await startAppStack();
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const sim = (method: string, path: string, body?: unknown) => http(method, `${stack.simulatorUrl}${path}`, body);
const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => http(method, `${stack.apiUrl}${path}`, body, headers);

async function ordersAtKlarna(token: string) {
  return ((await sim('GET', '/_sim/orders')).body as { order_id: string; token_id?: string; idempotency_key?: string }[]).filter((o) => o.token_id === token);
}

const subscriptionBody = (tokenRef: string, overrides: object = {}) => ({
  token_ref: tokenRef,
  purchase_currency: 'SEK',
  order_amount: 19900,
  order_lines: [{ type: 'digital', name: 'Coffee, monthly', quantity: 1, unit_price: 19900, total_amount: 19900 }],
  interval: 'DAY',
  interval_count: 1,
  billing_anchor: new Date(Date.now() - 1000).toISOString(),
  time_zone: 'Europe/Stockholm',
  merchant_reference: 'coffee-1001',
  ...overrides,
});

describe('subscriptions over HTTP', () => {
  it('charges the due period once; charge-now twice → the same order; pause, resume, change, cancel with the token', async () => {
    const { tokenRef, token } = await vaultedToken(stack);
    const key = `coffee-${randomUUID().slice(0, 8)}`;
    const body = subscriptionBody(tokenRef);
    const created = await api('POST', '/v1/subscriptions', body, { 'idempotency-key': key });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ flow_id: `sub-${key}`, flow_type: 'subscription', state: 'ACTIVE', token_ref: tokenRef });
    expect(created.body.plan.order_lines[0].subscription).toEqual({ name: 'Coffee, monthly', interval: 'DAY', interval_count: 1 });
    expect((await api('POST', '/v1/subscriptions', body, { 'idempotency-key': key })).status).toBe(200);
    expect((await api('POST', '/v1/subscriptions', { ...body, order_amount: 100, order_lines: [{ name: 'x', quantity: 1, unit_price: 100, total_amount: 100 }] }, { 'idempotency-key': key })).body).toMatchObject({ error: 'idempotency_conflict' });

    const paid = await eventually(async () => {
      const s = (await api('GET', `/v1/subscriptions/sub-${key}`)).body as SubscriptionStatus;
      return s.periods[0]?.state === 'PAID' ? s : undefined;
    }, 'period 0 paid');
    expect(paid.next_period).toBe(1);
    expect(Date.parse(paid.next_billing_at!) - Date.parse(body.billing_anchor)).toBe(86_400_000);
    const [a, b] = await Promise.all([api('POST', `/v1/subscriptions/sub-${key}/charge-now`), api('POST', `/v1/subscriptions/sub-${key}/charge-now`)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.attempts[0].order_id).toBe(paid.periods[0]!.attempts[0]!.order_id);
    expect(b.body).toEqual(a.body);
    const orders = await ordersAtKlarna(token);
    expect(orders).toHaveLength(1);
    expect(orders[0]!.idempotency_key).toBe(`charge-sub-${key}-0`);
    // The renewal is an ordinary charge, readable as one.
    expect((await api('GET', `/v1/charges/charge-sub-${key}-0`)).body).toMatchObject({ state: 'COMPLETED', order: { order_id: orders[0]!.order_id } });

    expect((await api('POST', `/v1/subscriptions/sub-${key}/pause`)).body.state).toBe('PAUSED');
    expect((await api('POST', `/v1/subscriptions/sub-${key}/pause`)).body.state).toBe('PAUSED');
    expect((await api('POST', `/v1/subscriptions/sub-${key}/charge-now`)).body).toMatchObject({ error: 'subscription_conflict' });
    expect((await api('POST', `/v1/subscriptions/sub-${key}/resume`, {})).body.state).toBe('ACTIVE');
    const changed = await api('POST', `/v1/subscriptions/sub-${key}/change`, { order_amount: 24900, order_lines: [{ type: 'digital', name: 'Coffee, large', quantity: 1, unit_price: 24900, total_amount: 24900 }] });
    expect(changed.body).toMatchObject({ plan: { order_amount: 19900 }, pending_plan: { order_amount: 24900 } });

    const cancelled = await api('POST', `/v1/subscriptions/sub-${key}/cancel`, { cancel_token: true });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ state: 'CANCELLED', token_cancel: 'done' });
    expect((await api('GET', `/v1/tokens/${tokenRef}`)).body.status).toBe('CANCELLED');
    expect((await api('POST', `/v1/subscriptions/sub-${key}/cancel`, {})).body.state).toBe('CANCELLED');
    expect((await api('POST', `/v1/subscriptions/sub-${key}/pause`)).status).toBe(409);
    expect(await ordersAtKlarna(token)).toHaveLength(1);
  });

  it('a renewal Klarna refuses (forced at the simulator): PAST_DUE with a retry scheduled; charge-now runs the retry at once', async () => {
    const { tokenRef, token } = await vaultedToken(stack);
    expect((await sim('POST', `/_sim/tokens/${token}/next-order-error`, { error_code: 'PAYMENT_METHOD_FAILED', count: 1 })).status).toBe(200);
    const key = `coffee-${randomUUID().slice(0, 8)}`;
    const body = subscriptionBody(tokenRef, { interval: 'MONTH' });
    expect((await api('POST', '/v1/subscriptions', body, { 'idempotency-key': key })).status).toBe(201);
    const pastDue = await eventually(async () => {
      const s = (await api('GET', `/v1/subscriptions/sub-${key}`)).body as SubscriptionStatus;
      return s.state === 'PAST_DUE' ? s : undefined;
    }, 'PAST_DUE');
    expect(pastDue.periods[0]).toMatchObject({ state: 'RETRY_SCHEDULED', attempts: [{ charge_id: `charge-sub-${key}-0`, state: 'FAILED', failure_kind: 'payment_method_failed' }] });
    expect(Date.parse(pastDue.periods[0]!.next_retry_at!) - Date.parse(body.billing_anchor)).toBe(86_400_000);
    const retried = await api('POST', `/v1/subscriptions/sub-${key}/charge-now?wait=10s`);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ index: 0, state: 'PAID' });
    expect(retried.body.attempts.map((a: { charge_id: string; state: string }) => [a.charge_id, a.state])).toEqual([
      [`charge-sub-${key}-0`, 'FAILED'],
      [`charge-sub-${key}-0-retry-1`, 'COMPLETED'],
    ]);
    expect((await api('GET', `/v1/subscriptions/sub-${key}`)).body.state).toBe('ACTIVE');
    expect((await ordersAtKlarna(token)).map((o) => o.idempotency_key)).toEqual([`charge-sub-${key}-0-retry-1`]);
    await api('POST', `/v1/subscriptions/sub-${key}/cancel`, {});
    // Cancelled without the token; asked again with it: the token is cancelled now.
    const again = await api('POST', `/v1/subscriptions/sub-${key}/cancel`, { cancel_token: true });
    expect(again.body).toMatchObject({ state: 'CANCELLED', token_cancel: 'done' });
    expect((await api('GET', `/v1/tokens/${tokenRef}`)).body.status).toBe('CANCELLED');
  });

  it('refuses bad requests before anything starts: 400 naming the fields, 404 unknown token or subscription', async () => {
    const { tokenRef } = await vaultedToken(stack);
    const bad = await api('POST', '/v1/subscriptions', subscriptionBody(tokenRef, { interval: 'FORTNIGHT', time_zone: 'Mars/Olympus', billing_anchor: 'soon' }), { 'idempotency-key': 'bad-1' });
    expect(bad.status).toBe(400);
    const fields = (bad.body.issues as { field: string }[]).map((i) => i.field);
    expect(fields).toEqual(expect.arrayContaining(['body.interval', 'body.time_zone', 'body.billing_anchor']));
    const ancient = await api('POST', '/v1/subscriptions', subscriptionBody(tokenRef, { billing_anchor: '2020-01-31T09:00:00+01:00' }), { 'idempotency-key': 'bad-3' });
    expect(ancient.status).toBe(400);
    expect(ancient.body.issues).toEqual([expect.objectContaining({ field: 'body.billing_anchor' })]);
    const unknown = await api('POST', '/v1/subscriptions', subscriptionBody(`ctok_${'0'.repeat(32)}`), { 'idempotency-key': 'bad-2' });
    expect(unknown.status).toBe(404);
    expect((await api('GET', '/v1/subscriptions/sub-nobody')).status).toBe(404);
    expect((await api('POST', '/v1/subscriptions/sub-nobody/pause')).status).toBe(404);
  });

  it('a short interval: one order per period at Klarna, a forced renewal failure retried by dunning, charge-now during renewals adds none', async () => {
    const { tokenRef, token } = await vaultedToken(stack);
    const id = `sub-short-${randomUUID().slice(0, 8)}`;
    const request = createSubscriptionRequest.parse(subscriptionBody(tokenRef, { billing_anchor: new Date(Date.now() + 500).toISOString(), dunning: { retry_after_days: [2 / 86_400] } }));
    // The test-only SECOND interval: a period every 4 s; dunning retries 2 s after a failed due date.
    const input = { ...subscriptionInputFromRequest(id, request), interval: 'SECOND' as const, interval_count: 4 };
    await stack.temporal.workflow.start('subscriptionWorkflow', { taskQueue: stack.taskQueue, workflowId: id, args: [input] });
    const read = async () => (await api('GET', `/v1/subscriptions/${id}`)).body as SubscriptionStatus;

    await eventually(async () => ((await read()).periods[0]?.state === 'PAID' ? true : undefined), 'period 0 paid');
    // Klarna refuses the next renewal once: period 1 fails, dunning retries it 2 s later.
    expect((await sim('POST', `/_sim/tokens/${token}/next-order-error`, { error_code: 'PAYMENT_METHOD_FAILED', count: 1 })).status).toBe(200);
    // "Charge now" while renewals run: never a second order for a period.
    for (let i = 0; i < 3; i++) {
      await Promise.all([api('POST', `/v1/subscriptions/${id}/charge-now?wait=10s`), api('POST', `/v1/subscriptions/${id}/charge-now?wait=10s`)]);
      await new Promise((r) => setTimeout(r, 1500));
    }
    const status = await eventually(async () => {
      const s = await read();
      return s.periods.filter((p) => p.state === 'PAID').length >= 3 && !s.periods.some((p) => p.state === 'CHARGING') ? s : undefined;
    }, 'three periods paid', 30_000);
    await api('POST', `/v1/subscriptions/${id}/cancel`, {});
    const final = await read();
    const p1 = final.periods.find((p) => p.index === 1)!;
    expect(p1.attempts.map((x) => [x.charge_id, x.state, x.failure_kind])).toEqual([
      [`charge-${id}-1`, 'FAILED', 'payment_method_failed'],
      [`charge-${id}-1-retry-1`, 'COMPLETED', undefined],
    ]);
    const paidPeriods = final.periods.filter((p) => p.state === 'PAID');
    expect(paidPeriods.length).toBeGreaterThanOrEqual(status.periods.filter((p) => p.state === 'PAID').length);
    const orders = await ordersAtKlarna(token);
    expect(orders).toHaveLength(paidPeriods.length);
    // One order per period, under the id of the try that succeeded.
    expect(orders.map((o) => o.idempotency_key).sort()).toEqual(paidPeriods.map((p) => p.attempts.at(-1)!.charge_id).sort());
  }, 90_000);

  it('"charge now" sent twice while a scheduled renewal is at Klarna: both answer with that renewal, one order', async () => {
    const { tokenRef, token } = await vaultedToken(stack);
    const id = `sub-renewing-${randomUUID().slice(0, 8)}`;
    // A period every 10 s, anchored 8 s ago: period 0 is charged at the start, period 1 is due in 2 s.
    const request = createSubscriptionRequest.parse(subscriptionBody(tokenRef, { billing_anchor: new Date(Date.now() - 8_000).toISOString() }));
    const input = { ...subscriptionInputFromRequest(id, request), interval: 'SECOND' as const, interval_count: 10 };
    await stack.temporal.workflow.start('subscriptionWorkflow', { taskQueue: stack.taskQueue, workflowId: id, args: [input] });
    await eventually(async () => ((await api('GET', `/v1/subscriptions/${id}`)).body.periods?.[0]?.state === 'PAID' ? true : undefined), 'period 0 paid');
    // Klarna places the scheduled renewal of period 1 and holds its answer for 3 s.
    const hold = await sim('POST', '/_sim/faults', { path: `/customer-token/v1/tokens/${token}/order`, phase: 'after', latencyMs: 3_000, count: 1 });
    expect(hold.status).toBe(200);
    await eventually(async () => ((await ordersAtKlarna(token)).some((o) => o.idempotency_key === `charge-${id}-1`) ? true : undefined), 'the renewal at Klarna');
    const [a, b] = await Promise.all([api('POST', `/v1/subscriptions/${id}/charge-now?wait=10s`), api('POST', `/v1/subscriptions/${id}/charge-now?wait=10s`)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    // The hold was on the scheduled renewal: both calls came while its answer was held.
    expect(((await sim('GET', '/_sim/faults')).body as { id: string; matched: number }[]).find((f) => f.id === hold.body.id)?.matched).toBe(1);
    const orders = await ordersAtKlarna(token);
    const renewal = orders.find((o) => o.idempotency_key === `charge-${id}-1`)!;
    expect(a.body).toMatchObject({ index: 1, state: 'PAID', attempts: [{ charge_id: `charge-${id}-1`, state: 'COMPLETED', order_id: renewal.order_id }] });
    expect(a.body.attempts).toHaveLength(1);
    expect(b.body).toEqual(a.body);
    await api('POST', `/v1/subscriptions/${id}/cancel`, {});
    // One order per period; the renewal's order was asked for once (the scheduled call only).
    expect(orders.map((o) => o.idempotency_key).sort()).toEqual([`charge-${id}-0`, `charge-${id}-1`]);
    const log = (await sim('GET', '/_sim/requests?method=POST&path_prefix=/customer-token/')).body as { path: string; idempotency_key?: string }[];
    expect(log.filter((r) => r.path === `/customer-token/v1/tokens/${token}/order`).map((r) => r.idempotency_key)).toEqual([`charge-${id}-0`, `charge-${id}-1`]);
    expect((await ordersAtKlarna(token)).map((o) => o.idempotency_key).sort()).toEqual([`charge-${id}-0`, `charge-${id}-1`]);
  });
});
