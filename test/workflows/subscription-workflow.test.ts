import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { localDueDate } from '../../contracts/billing-calendar.js';
import type { ChargeStatus, PlacedOrder } from '../../contracts/charge.js';
import type { FlowStatusBase } from '../../contracts/flow-status.js';
import type { SubscriptionInput, SubscriptionStatus } from '../../contracts/subscription.js';
import { klarnaFailureType, type KlarnaErrorKind } from '../../klarna/errors.js';
import type { PlaceTokenOrderInput } from '../../activities/charge-activities.js';
import { createEncryptionCodec, encryptingDataConverter, ephemeralPayloadKeys } from '../../temporal/payload-codec.js';
import { cancelSubscriptionUpdate, changeSubscriptionUpdate, chargeNowUpdate, pauseSubscriptionUpdate, resumeSubscriptionUpdate, subscriptionStatusQuery } from '../../workflows/definitions.js';
import { useTimeSkippingEnvironment } from './time-skipping-environment.js';

// The subscription workflow with the real chargeWorkflow as its child and fake activities
// (Klarna's token order scripted per charge id). Time is skipped by the Temporal test server:
// years of renewals take seconds.

const dataConverter = encryptingDataConverter(createEncryptionCodec(ephemeralPayloadKeys()));
const DAY = 86_400_000;
const suite = useTimeSkippingEnvironment(dataConverter);

/** What the fake Klarna answers a charge: an order, or a refusal of this kind. */
type Script = (chargeId: string) => 'ok' | KlarnaErrorKind;

function fakeActivities(script: Script) {
  const orders: { charge_id: string; order_id: string; amount: number }[] = [];
  const attempts: string[] = [];
  const stored = new Map<string, { seq: number; status: FlowStatusBase }>();
  const tokenCancels: string[] = [];
  const subscriptionStates: string[] = [];
  /** Merchant notifications, in the order they were stored (each event once, by id). */
  const notifications: { id: string; type: string; data: Record<string, unknown> }[] = [];
  const activities = {
    async recordMerchantEvent(event: { id: string; type: string; data: Record<string, unknown> }): Promise<number> {
      if (!notifications.some((n) => n.id === event.id)) notifications.push({ id: event.id, type: event.type, data: event.data });
      return 0;
    },
    async deliverMerchantEvent(): Promise<void> {},
    async giveUpMerchantEvent(): Promise<void> {},
    async placeTokenOrder(input: PlaceTokenOrderInput): Promise<PlacedOrder> {
      attempts.push(input.charge_id);
      const answer = script(input.charge_id);
      if (answer !== 'ok') {
        throw ApplicationFailure.create({ type: klarnaFailureType(answer), message: `Klarna refused: ${answer}`, nonRetryable: true });
      }
      const order = { charge_id: input.charge_id, order_id: `order-${input.idempotency_key}`, amount: input.order.order_amount };
      if (!orders.some((o) => o.charge_id === input.charge_id)) orders.push(order);
      return { order_id: order.order_id, fraud_status: 'ACCEPTED' };
    },
    async recordFlowStatus(input: { flow_id: string; seq: number; status: FlowStatusBase }): Promise<void> {
      if (input.status.flow_type === 'subscription') subscriptionStates.push(input.status.state);
      const prev = stored.get(input.flow_id);
      if (!prev || prev.seq < input.seq) stored.set(input.flow_id, { seq: input.seq, status: input.status });
    },
    async storedChargeOutcome(input: { charge_id: string }): Promise<ChargeStatus> {
      const doc = stored.get(input.charge_id);
      if (!doc || (doc.status.state !== 'COMPLETED' && doc.status.state !== 'FAILED')) throw new Error('no outcome yet');
      return doc.status as ChargeStatus;
    },
    async cancelTokenAtKlarna(input: { token_ref: string }) {
      tokenCancels.push(input.token_ref);
      return { token_ref: input.token_ref, status: 'CANCELLED' };
    },
  };
  return { activities, orders, attempts, stored, tokenCancels, subscriptionStates, notifications };
}

/** Now on the test server's clock (it runs ahead of the wall clock once a test skipped time). */
const serverNow = async () => suite.env.currentTimeMs();

function subscriptionInput(overrides: Partial<SubscriptionInput> = {}): SubscriptionInput {
  const key = randomUUID().slice(0, 8);
  return {
    flow_id: `sub-${key}`,
    merchant_reference: `coffee-${key}`,
    token_ref: `ctok_${'a'.repeat(32)}`,
    plan: {
      purchase_currency: 'SEK',
      order_amount: 19900,
      order_tax_amount: 0,
      order_lines: [{ type: 'digital', name: 'Coffee', quantity: 1, unit_price: 19900, total_amount: 19900, subscription: { name: 'Coffee', interval: 'MONTH', interval_count: 1 } }],
    },
    interval: 'MONTH',
    interval_count: 1,
    billing_anchor: new Date().toISOString(),
    time_zone: 'Europe/Stockholm',
    catch_up: 'charge_latest',
    dunning: { retry_after_days: [1, 3, 7], on_exhausted: 'SUSPEND' },
    ...overrides,
  };
}

async function withWorker<T>(activities: object, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `tq-${randomUUID()}`;
  const worker = await Worker.create({ connection: suite.env.nativeConnection, taskQueue, workflowBundle: suite.bundle, activities, dataConverter });
  return worker.runUntil(fn(taskQueue));
}

type Handle = Awaited<ReturnType<typeof suite.env.client.workflow.start>>;
async function until(handle: Handle, done: (s: SubscriptionStatus) => boolean, what: string): Promise<SubscriptionStatus> {
  let last: SubscriptionStatus | undefined;
  for (let i = 0; i < 300; i++) {
    last = await handle.query(subscriptionStatusQuery);
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never reached ${what}: ${JSON.stringify(last)}`);
}

const periodIndex = (chargeId: string) => Number(/-(\d+)(?:-retry-\d+)?$/.exec(chargeId)![1]);

describe('subscription workflow', () => {
  it('renews monthly for a year from a 31 January anchor in Europe/Stockholm: month ends and DST kept, one order per period', async () => {
    // Ends by itself: period 12's token is cancelled at Klarna and the policy cancels the subscription.
    const fake = fakeActivities((id) => (periodIndex(id) >= 12 ? 'token_cancelled' : 'ok'));
    // The test server's clock moves on with every test: the next leap year's 31 January, 09:00 in Stockholm.
    let year = new Date(await suite.env.currentTimeMs()).getUTCFullYear() + 1;
    while (year % 4 !== 0) year++;
    const input = subscriptionInput({ billing_anchor: `${year}-01-31T09:00:00+01:00`, dunning: { retry_after_days: [1, 3, 7], on_exhausted: 'CANCEL' } });
    const result = await withWorker(fake.activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start('subscriptionWorkflow', { taskQueue, workflowId: input.flow_id, args: [input] });
      return (await handle.result()) as SubscriptionStatus;
    });
    expect(result.state).toBe('CANCELLED');
    const cadence = { anchor: input.billing_anchor, time_zone: input.time_zone, interval: 'MONTH' as const, interval_count: 1 };
    expect(result.periods.slice(0, 12).map((p) => localDueDate(cadence, p.index))).toEqual(
      ['01-31', '02-29', '03-31', '04-30', '05-31', '06-30', '07-31', '08-31', '09-30', '10-31', '11-30', '12-31'].map((d) => `${year}-${d}`),
    );
    // Each at 09:00 in Stockholm (checked with Intl, not our calendar): 08:00Z in winter (CET), 07:00Z in summer (CEST).
    const stockholm = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Stockholm', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    expect(result.periods.slice(0, 12).map((p) => stockholm.format(new Date(p.due_at)).slice(-5))).toEqual(Array(12).fill('09:00'));
    expect(result.periods.slice(0, 12).map((p) => p.due_at.slice(11, 16))).toEqual(['08:00', '08:00', '07:00', '07:00', '07:00', '07:00', '07:00', '07:00', '07:00', '08:00', '08:00', '08:00']);
    expect(result.periods.slice(0, 12).every((p) => p.state === 'PAID' && p.attempts.length === 1)).toBe(true);
    expect(fake.orders.map((o) => o.charge_id)).toEqual(Array.from({ length: 12 }, (_, n) => `charge-${input.flow_id}-${n}`));
    // A dead token: no dunning at all.
    expect(fake.attempts.filter((id) => periodIndex(id) === 12)).toEqual([`charge-${input.flow_id}-12`]);
    expect(result.failure?.kind).toBe('token_cancelled');
    expect(fake.stored.get(input.flow_id)?.status.state).toBe('CANCELLED');
  });

  it('dunning: a renewal failing twice then succeeding is retried on days 1 and 3, one order, PAST_DUE meanwhile', async () => {
    const fails = new Set(['-1', '-1-retry-1']);
    const fake = fakeActivities((id) => {
      const suffix = id.replace(/^charge-sub-[^-]+/, '');
      if (fails.has(suffix)) return 'payment_method_failed';
      return periodIndex(id) >= 2 ? 'token_not_found' : 'ok';
    });
    const input = subscriptionInput({
      billing_anchor: new Date(await serverNow()).toISOString(),
      dunning: { retry_after_days: [1, 3, 7], on_exhausted: 'CANCEL' },
      notify_merchant: true,
    });
    const result = await withWorker(fake.activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start('subscriptionWorkflow', { taskQueue, workflowId: input.flow_id, args: [input] });
      return (await handle.result()) as SubscriptionStatus;
    });
    const p1 = result.periods.find((p) => p.index === 1)!;
    expect(p1.state).toBe('PAID');
    expect(p1.attempts.map((a) => [a.charge_id, a.state, a.failure_kind])).toEqual([
      [`charge-${input.flow_id}-1`, 'FAILED', 'payment_method_failed'],
      [`charge-${input.flow_id}-1-retry-1`, 'FAILED', 'payment_method_failed'],
      [`charge-${input.flow_id}-1-retry-2`, 'COMPLETED', undefined],
    ]);
    const due = Date.parse(p1.due_at);
    expect(Date.parse(p1.attempts[1]!.at) - due).toBeGreaterThanOrEqual(1 * DAY);
    expect(Date.parse(p1.attempts[1]!.at) - due).toBeLessThan(1 * DAY + 60_000);
    expect(Date.parse(p1.attempts[2]!.at) - due).toBeGreaterThanOrEqual(3 * DAY);
    expect(Date.parse(p1.attempts[2]!.at) - due).toBeLessThan(3 * DAY + 60_000);
    expect(fake.orders.filter((o) => periodIndex(o.charge_id) === 1)).toHaveLength(1);
    expect([...new Set(fake.subscriptionStates)]).toEqual(['ACTIVE', 'PAST_DUE', 'CANCELLED']);
    // Period 2: the token is gone, no retries, the policy cancels.
    expect(result.periods.find((p) => p.index === 2)!.attempts).toHaveLength(1);
    expect(result.state).toBe('CANCELLED');
    // The merchant was told each step, once (child delivery workflows, id = event id).
    await new Promise((r) => setTimeout(r, 500));
    const id = input.flow_id;
    expect(fake.notifications.filter((n) => n.id.includes(`charge-${id}-1`)).map((n) => [n.id, n.type])).toEqual([
      [`evt-charge-${id}-1`, 'renewal.failed'],
      [`evt-charge-${id}-1-retry-1`, 'renewal.failed'],
      [`evt-charge-${id}-1-retry-2`, 'renewal.succeeded'],
    ]);
    expect(fake.notifications.filter((n) => n.type.startsWith('subscription.')).map((n) => n.type)).toEqual([
      'subscription.past_due',
      'subscription.cancelled',
    ]);
    expect(fake.notifications.find((n) => n.id === `evt-charge-${id}-2-token`)).toMatchObject({ type: 'token.status_changed', data: { failure_kind: 'token_not_found' } });
    expect(new Set(fake.notifications.map((n) => n.id)).size).toBe(fake.notifications.length);
  });

  it('a dead token stops dunning at once: SUSPENDED after one try; resume makes it ACTIVE again', async () => {
    let dead = true;
    const fake = fakeActivities(() => (dead ? 'token_suspended' : 'ok'));
    const input = subscriptionInput({ billing_anchor: new Date(await serverNow()).toISOString() });
    await withWorker(fake.activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start('subscriptionWorkflow', { taskQueue, workflowId: input.flow_id, args: [input] });
      const suspended = await until(handle, (s) => s.state === 'SUSPENDED', 'SUSPENDED');
      expect(suspended.periods[0]).toMatchObject({ index: 0, state: 'FAILED', attempts: [{ failure_kind: 'token_suspended' }] });
      expect(suspended.failure?.kind).toBe('token_suspended');
      expect(fake.attempts).toHaveLength(1);
      dead = false; // Klarna lifted the suspension (POST /v1/tokens/{ref}/refresh)
      const resumed = await handle.executeUpdate(resumeSubscriptionUpdate, { args: [{}] });
      expect(resumed.state).toBe('ACTIVE');
      expect(resumed.failure).toBeUndefined();
      // The failed period is not charged again by itself; "charge now" does it.
      const charged = await handle.executeUpdate(chargeNowUpdate, { args: [] });
      expect(charged).toMatchObject({ index: 0, state: 'PAID' });
      expect(charged.attempts.map((a) => a.charge_id)).toEqual([`charge-${input.flow_id}-0`, `charge-${input.flow_id}-0-retry-1`]);
      await handle.executeUpdate(cancelSubscriptionUpdate, { args: [{}] });
      return handle.result();
    });
    expect(fake.orders).toHaveLength(1);
  });

  it('pause across two periods, then resume: those periods are skipped, no back-charges; charge now twice → one order', async () => {
    const fake = fakeActivities(() => 'ok');
    const input = subscriptionInput({ interval: 'DAY', billing_anchor: new Date((await serverNow()) - 60_000).toISOString() });
    const result = await withWorker(fake.activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start('subscriptionWorkflow', { taskQueue, workflowId: input.flow_id, args: [input] });
      await until(handle, (s) => s.periods[0]?.state === 'PAID', 'period 0 paid');
      const paused = await handle.executeUpdate(pauseSubscriptionUpdate, { args: [] });
      expect(paused.state).toBe('PAUSED');
      await suite.env.sleep(2.5 * DAY);
      const resumed = await handle.executeUpdate(resumeSubscriptionUpdate, { args: [{}] });
      expect(resumed.state).toBe('ACTIVE');
      expect(resumed.periods.map((p) => [p.index, p.state, p.skip_reason])).toEqual([
        [0, 'PAID', undefined],
        [1, 'SKIPPED', 'paused'],
        [2, 'SKIPPED', 'paused'],
      ]);
      expect(resumed.next_period).toBe(3);
      // Period 2 is the one due now: "charge now" charges it, twice at once → one charge.
      const [a, b] = await Promise.all([handle.executeUpdate(chargeNowUpdate, { args: [] }), handle.executeUpdate(chargeNowUpdate, { args: [] })]);
      expect(a).toMatchObject({ index: 2, state: 'PAID' });
      expect(b.attempts).toEqual(a.attempts);
      await handle.executeUpdate(cancelSubscriptionUpdate, { args: [{}] });
      return (await handle.result()) as SubscriptionStatus;
    });
    expect(result.state).toBe('CANCELLED');
    expect(fake.orders.map((o) => periodIndex(o.charge_id))).toEqual([0, 2]);
    expect(fake.attempts).toHaveLength(2);
  });

  it('downtime across due dates: charge_all charges each missed period once, charge_latest only the latest, skip none but one on time', async () => {
    for (const [policy, charged] of [
      ['charge_all', [0, 1, 2, 3]],
      ['charge_latest', [3]],
      ['skip', [3]],
    ] as const) {
      const fake = fakeActivities(() => 'ok');
      // Started 3 days after its anchor, as after a worker outage: periods 0-3 are due.
      const input = subscriptionInput({ interval: 'DAY', catch_up: policy, billing_anchor: new Date((await serverNow()) - 3 * DAY - 1000).toISOString() });
      const status = await withWorker(fake.activities, async (taskQueue) => {
        const handle = await suite.env.client.workflow.start('subscriptionWorkflow', { taskQueue, workflowId: input.flow_id, args: [input] });
        const s = await until(handle, (x) => x.next_period === 4 && x.periods.every((p) => p.state !== 'CHARGING'), 'periods 0-3 settled');
        await handle.executeUpdate(cancelSubscriptionUpdate, { args: [{}] });
        await handle.result();
        return s;
      });
      expect(fake.orders.map((o) => periodIndex(o.charge_id)), policy).toEqual(charged);
      expect(status.periods.filter((p) => p.state === 'SKIPPED').map((p) => p.skip_reason)).toEqual(Array(4 - charged.length).fill('missed'));
    }
  });

  it('a month-long outage under charge_all: 30 missed periods charged once each, across runs', async () => {
    // Period 30 finds the token cancelled: the policy cancels the subscription, which ends the test.
    const fake = fakeActivities((id) => (periodIndex(id) >= 30 ? 'token_cancelled' : 'ok'));
    const input = subscriptionInput({
      interval: 'DAY',
      catch_up: 'charge_all',
      billing_anchor: new Date((await serverNow()) - 29 * DAY - 1000).toISOString(),
      dunning: { retry_after_days: [1], on_exhausted: 'CANCEL' },
    });
    const { result, firstRun } = await withWorker(fake.activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start('subscriptionWorkflow', { taskQueue, workflowId: input.flow_id, args: [input] });
      const r = (await handle.result()) as SubscriptionStatus;
      return { result: r, firstRun: await suite.env.client.workflow.getHandle(input.flow_id, handle.firstExecutionRunId).fetchHistory() };
    });
    expect(result.state).toBe('CANCELLED');
    expect(fake.orders.map((o) => periodIndex(o.charge_id))).toEqual(Array.from({ length: 30 }, (_, n) => n));
    // The catch-up did not fit one run: the first ended in continue-as-new after 12 periods.
    const events = firstRun.events ?? [];
    expect(events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
    expect(events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toHaveLength(12);
  }, 120_000);

  it('a change applies from the next period: amount and lines (with their subscription object) sent to Klarna', async () => {
    const fake = fakeActivities((id) => (periodIndex(id) >= 2 ? 'token_cancelled' : 'ok'));
    const input = subscriptionInput({ billing_anchor: new Date(await serverNow()).toISOString(), dunning: { retry_after_days: [1], on_exhausted: 'CANCEL' } });
    const result = await withWorker(fake.activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start('subscriptionWorkflow', { taskQueue, workflowId: input.flow_id, args: [input] });
      await until(handle, (s) => s.periods[0]?.state === 'PAID', 'period 0 paid');
      const changed = await handle.executeUpdate(changeSubscriptionUpdate, {
        args: [{ order_amount: 24900, order_lines: [{ type: 'digital', name: 'Coffee, large', quantity: 1, unit_price: 24900, total_amount: 24900 }] }],
      });
      expect(changed).toMatchObject({ plan: { order_amount: 19900 }, pending_plan: { order_amount: 24900 } });
      return (await handle.result()) as SubscriptionStatus;
    });
    expect(fake.orders.map((o) => [periodIndex(o.charge_id), o.amount])).toEqual([
      [0, 19900],
      [1, 24900],
    ]);
    expect(result.periods.map((p) => p.order_amount)).toEqual([19900, 24900, 24900]);
    expect(result.plan.order_lines[0]!.subscription).toEqual({ name: 'Coffee, large', interval: 'MONTH', interval_count: 1 });
    expect(result.pending_plan).toBeUndefined();
  });

  it('cancel mid-period: no further charges; cancel_token cancels the token at Klarna once', async () => {
    const fake = fakeActivities(() => 'ok');
    const input = subscriptionInput({ billing_anchor: new Date(await serverNow()).toISOString() });
    const result = await withWorker(fake.activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start('subscriptionWorkflow', { taskQueue, workflowId: input.flow_id, args: [input] });
      await until(handle, (s) => s.periods[0]?.state === 'PAID', 'period 0 paid');
      await suite.env.sleep(10 * DAY);
      const cancelled = await handle.executeUpdate(cancelSubscriptionUpdate, { args: [{ cancel_token: true }] });
      expect(cancelled).toMatchObject({ state: 'CANCELLED', token_cancel: 'done' });
      return (await handle.result()) as SubscriptionStatus;
    });
    expect(result.next_billing_at).toBeUndefined();
    expect(fake.orders).toHaveLength(1);
    expect(fake.tokenCancels).toEqual([input.token_ref]);
  });

  it('ten years of monthly renewals: continue-as-new every 12 periods keeps each run’s history small', async () => {
    const fake = fakeActivities((id) => (periodIndex(id) >= 120 ? 'token_cancelled' : 'ok'));
    const input = subscriptionInput({ billing_anchor: new Date((await serverNow()) + DAY).toISOString(), dunning: { retry_after_days: [1, 3, 7], on_exhausted: 'CANCEL' } });
    const { result, runs } = await withWorker(fake.activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start('subscriptionWorkflow', { taskQueue, workflowId: input.flow_id, args: [input] });
      const r = (await handle.result()) as SubscriptionStatus;
      // Follow the chain of runs from the first, counting each run's events.
      const counts: number[] = [];
      let runId: string | undefined = handle.firstExecutionRunId;
      while (runId) {
        const history: { events?: { workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string | null } | null }[] | null } = await suite.env.client.workflow.getHandle(input.flow_id, runId).fetchHistory();
        const events = history.events ?? [];
        counts.push(events.length);
        const last = events[events.length - 1];
        runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
      }
      return { result: r, runs: counts };
    });
    expect(fake.orders).toHaveLength(120);
    expect(new Set(fake.orders.map((o) => o.charge_id)).size).toBe(120);
    expect(result.state).toBe('CANCELLED');
    expect(result.periods.length).toBeLessThanOrEqual(36);
    expect(runs.length).toBeGreaterThanOrEqual(10);
    // Temporal warns at 10,240 events and terminates at 51,200; a run stays far below.
    expect(Math.max(...runs)).toBeLessThan(600);
    console.info(`10 years monthly: ${runs.length} runs, events per run ${runs.join(', ')}`);
  }, 180_000);
});
