import { randomUUID } from 'node:crypto';
// CommonJS package: under plain Node ESM only its default export is importable by name.
import protos from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSubscriptionRequest, subscriptionId, type SubscriptionStatus } from '../../contracts/subscription.js';
import { subscriptionInputFromRequest } from '../../contracts/subscription-rules.js';
import { eventually, http, vaultedToken } from '../harness/app-stack.js';
import { startSpawnedApp, type AppProcess, type SpawnedApp } from '../harness/spawned-app.js';

// Subscriptions across a worker that dies (issue 12): the worker is the shipped process
// (`node --import tsx worker/main.ts`), SIGKILLed once, on the suite's Temporal and FerretDB; the
// API too is its own process. Two subscriptions with a period every 6 s (the test-only SECOND
// interval, started on Temporal directly: the API refuses it), `catch_up: charge_all`, so every
// period that falls due must be charged, and charged once:
//
//   held  its period-1 order is placed at Klarna, whose answer is held 25 s: the worker dies with
//         the charge in flight. The next worker retries the order once the attempt times out
//         (30 s), under the same idempotency key; Klarna answers from the key.
//   timer the same kill comes some 4 s before its period 1 is due, and the worker stays down
//         across that due date: the durable timer fires with no worker; the next worker charges
//         what fell due meanwhile.
//
// Then every due period of both must have exactly one order at Klarna (the simulator's order log)
// under its deterministic key `charge-sub-<key>-<n>`, and be PAID once in the period history.

const PERIOD_S = 6;
let app: SpawnedApp;
beforeAll(async () => {
  app = await startSpawnedApp({ name: 'sub-worker-killed' });
}, 120_000);
afterAll(async () => {
  await app?.stop();
});

const sim = (method: string, path: string, body?: unknown) => http(method, `${app.simulatorUrl}${path}`, body);
const api = (method: string, path: string, body?: unknown) => http(method, `${app.apiUrl}${path}`, body);
const read = async (id: string) => (await api('GET', `/v1/subscriptions/${id}`)).body as SubscriptionStatus;

interface SimOrder {
  order_id: string;
  token_id?: string;
  idempotency_key?: string;
}
const ordersAtKlarna = async (token: string) => ((await sim('GET', '/_sim/orders')).body as SimOrder[]).filter((o) => o.token_id === token);

async function startSubscription(key: string, tokenRef: string, anchorMs: number): Promise<string> {
  const id = subscriptionId(key);
  const request = createSubscriptionRequest.parse({
    token_ref: tokenRef,
    purchase_currency: 'SEK',
    order_amount: 19900,
    order_lines: [{ type: 'digital', name: 'Coffee, monthly', quantity: 1, unit_price: 19900, total_amount: 19900 }],
    interval: 'DAY',
    interval_count: 1,
    billing_anchor: new Date(anchorMs).toISOString(),
    time_zone: 'Europe/Stockholm',
    merchant_reference: key,
    catch_up: 'charge_all',
  });
  const input = { ...subscriptionInputFromRequest(id, request), interval: 'SECOND' as const, interval_count: PERIOD_S };
  await app.temporal.workflow.start('subscriptionWorkflow', { taskQueue: app.taskQueue, workflowId: id, args: [input] });
  return id;
}

const EventType = protos.temporal.api.enums.v1.EventType;
/** Who started each workflow task and each activity attempt of a workflow (from its history). */
async function workOf(workflowId: string) {
  const { events } = await app.temporal.workflow.getHandle(workflowId).fetchHistory();
  return {
    workflowTasks: (events ?? []).filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED).map((e) => e.workflowTaskStartedEventAttributes!.identity),
    activities: (events ?? [])
      .filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
      .map((e) => ({ identity: e.activityTaskStartedEventAttributes!.identity ?? '', attempt: e.activityTaskStartedEventAttributes!.attempt ?? 0 })),
  };
}

/** Every period 0..N PAID with one try, `charge-<id>-<n>`, whose order is the one Klarna holds under that key. */
function expectEachPeriodPaidOnce(status: SubscriptionStatus, orders: SimOrder[]) {
  const indexes = status.periods.map((p) => p.index);
  expect(indexes).toEqual(indexes.map((_, n) => n));
  expect(status.periods.map((p) => [p.index, p.state, p.attempts.length])).toEqual(indexes.map((n) => [n, 'PAID', 1]));
  const byKey = new Map(orders.map((o) => [o.idempotency_key, o.order_id]));
  expect(orders.map((o) => o.idempotency_key).sort()).toEqual(indexes.map((n) => `charge-${status.flow_id}-${n}`).sort());
  expect(byKey.size).toBe(orders.length);
  for (const p of status.periods) {
    expect(p.attempts[0]).toMatchObject({ charge_id: `charge-${status.flow_id}-${p.index}`, state: 'COMPLETED', order_id: byKey.get(`charge-${status.flow_id}-${p.index}`) });
  }
}

describe('a subscription whose worker is SIGKILLed across due dates', () => {
  it('charges every due period exactly once: a charge in flight at the kill, a timer that fired with no worker', async () => {
    const held = await vaultedToken(app);
    const timer = await vaultedToken(app);
    const suffix = randomUUID().slice(0, 8);
    const t0 = Date.now();
    // Period n of `held` is due at t0 + 2 s + 6n s, of `timer` 4 s later.
    const heldId = await startSubscription(`held-${suffix}`, held.tokenRef, t0 + 2_000);
    const timerId = await startSubscription(`timer-${suffix}`, timer.tokenRef, t0 + 6_000);
    const dueAt = (anchorOffset: number, n: number) => t0 + anchorOffset + n * PERIOD_S * 1000;
    const firstWorker = app.workers[0]!;
    await eventually(async () => ((await read(heldId)).periods[0]?.state === 'PAID' ? true : undefined), 'held period 0 paid');
    // Klarna will place `held`'s period-1 order and hold the answer; the worker dies meanwhile.
    const fault = await sim('POST', '/_sim/faults', { path: `/customer-token/v1/tokens/${held.token}/order`, phase: 'after', latencyMs: 25_000, count: 1 });
    expect(fault.status).toBe(200);
    await eventually(async () => ((await read(timerId)).periods[0]?.state === 'PAID' ? true : undefined), 'timer period 0 paid');
    await eventually(
      async () => ((await ordersAtKlarna(held.token)).some((o) => o.idempotency_key === `charge-${heldId}-1`) ? true : undefined),
      'held period 1 placed at Klarna',
      20_000,
    );
    await app.kill(firstWorker);
    const killedAt = Date.now();
    // The kill came before `timer`'s period 1 was due, and nobody charged it while no worker ran.
    expect(killedAt, 'killed before the timer subscription was due').toBeLessThan(dueAt(6_000, 1));
    await new Promise((r) => setTimeout(r, dueAt(6_000, 1) + 1_000 - Date.now()));
    expect((await ordersAtKlarna(timer.token)).map((o) => o.idempotency_key)).toEqual([`charge-${timerId}-0`]);

    const restartedAt = Date.now();
    const secondWorker: AppProcess = await app.startWorker();
    // The held charge finishes once its lost attempt has timed out and the retry got Klarna's
    // stored answer; then the periods that fell due meanwhile are charged, oldest first, one after
    // the other. Caught up: every period due (2 s of slack) until now is there and PAID — a period
    // the outage made them miss keeps this from ever holding.
    const dueUntil = (anchorOffset: number, at: number) => Math.floor((at - 2_000 - (t0 + anchorOffset)) / (PERIOD_S * 1000)) + 1;
    const settled = async (id: string, anchorOffset: number, atLeast: number) => {
      const s = await read(id);
      const caughtUp = s.periods.length > atLeast && s.periods.length >= dueUntil(anchorOffset, Date.now());
      return caughtUp && s.periods.every((p) => p.state === 'PAID') ? s : undefined;
    };
    await eventually(async () => ((await settled(heldId, 2_000, 3)) && (await settled(timerId, 6_000, 3)) ? true : undefined), 'the periods due meanwhile settled', 60_000);

    // Stop billing, then compare once nothing is charging any more.
    for (const id of [heldId, timerId]) expect((await api('POST', `/v1/subscriptions/${id}/cancel`, {})).body.state).toBe('CANCELLED');
    const final = async (id: string) =>
      eventually(async () => {
        const s = await read(id);
        return s.state === 'CANCELLED' && !s.periods.some((p) => p.state === 'CHARGING') ? s : undefined;
      }, `${id} at rest`);
    const heldFinal = await final(heldId);
    const timerFinal = await final(timerId);
    const heldOrders = await ordersAtKlarna(held.token);
    const timerOrders = await ordersAtKlarna(timer.token);
    expectEachPeriodPaidOnce(heldFinal, heldOrders);
    expectEachPeriodPaidOnce(timerFinal, timerOrders);
    // Every period due (4 s of slack) before the cancel was charged (charge_all): none missed,
    // among them those that fell due while no worker ran. The slack: a period whose timer fired
    // just before the cancel reaches the workflow in the same activation as the cancel, which is
    // handled first (updates before timers), so that period is rightly not charged.
    const dueBefore = (anchorOffset: number, s: SubscriptionStatus) => dueUntil(anchorOffset, Date.parse(s.cancelled_at!) - 2_000);
    expect(heldFinal.periods.length).toBeGreaterThanOrEqual(dueBefore(2_000, heldFinal));
    expect(timerFinal.periods.length).toBeGreaterThanOrEqual(dueBefore(6_000, timerFinal));
    expect(Date.parse(timerFinal.periods[1]!.due_at)).toBeGreaterThan(killedAt);
    expect(Date.parse(timerFinal.periods[1]!.due_at)).toBeLessThan(restartedAt);

    // The held order: sent twice with one key (the lost attempt and the retry), placed once.
    const requests = (await sim('GET', '/_sim/requests?method=POST&path_prefix=/customer-token/')).body as { path: string; idempotency_key?: string }[];
    const heldCalls = requests.filter((r) => r.path === `/customer-token/v1/tokens/${held.token}/order` && r.idempotency_key === `charge-${heldId}-1`);
    // Which process did what, from the histories: the first worker started the held charge, the
    // restarted one finished it (a retry); the timer's period 1 was started by the restarted one.
    const heldCharge = await workOf(`charge-${heldId}-1`);
    expect(heldCharge.workflowTasks[0]).toBe(firstWorker.identity);
    expect(heldCharge.activities).toEqual([{ identity: secondWorker.identity, attempt: expect.any(Number) }]);
    expect(heldCharge.activities[0]!.attempt).toBeGreaterThanOrEqual(2);
    expect(heldCalls).toHaveLength(heldCharge.activities[0]!.attempt);
    const timerCharge = await workOf(`charge-${timerId}-1`);
    expect(timerCharge.workflowTasks.every((identity) => identity === secondWorker.identity)).toBe(true);
    expect((await api('GET', `/v1/charges/charge-${heldId}-1`)).body).toMatchObject({ state: 'COMPLETED', order: { order_id: heldFinal.periods[1]!.attempts[0]!.order_id } });
  }, 120_000);
});
