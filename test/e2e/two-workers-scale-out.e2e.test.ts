import { randomUUID } from 'node:crypto';
// CommonJS package: under plain Node ESM only its default export is importable by name.
import protos from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChargeStatus } from '../../contracts/charge.js';
import type { CustomerTokenDocument } from '../../persistence/customer-tokens-repository.js';
import { collections } from '../../persistence/mongo.js';
import { eventually, http, tokenizationBody, vaultedToken } from '../harness/app-stack.js';
import { startSpawnedApp, type SpawnedApp } from '../harness/spawned-app.js';

// Scale-out (issue 15): two worker processes (`node --import tsx worker/main.ts`) on one task
// queue, the API its own process, on the suite's Temporal and FerretDB. Flows go in through the
// API only. Who did what is read from the histories: every WorkflowTaskStarted and
// ActivityTaskStarted event carries the identity (`<pid>@<host>`) of the worker that took the task.
//
//   1. 30 charges and 10 tokenizations at once: all complete, one effect each at Klarna (an order
//      per charge, a customer token per tokenization), and both workers ran workflow tasks and
//      activities. From these histories: events and billable actions per flow (docs/performance.md).
//   2. 20 charges, Klarna holding each answer 8 s; one worker is SIGKILLed while it has one of
//      them in flight: the other finishes all of them, the lost call retried under the same key.

let app: SpawnedApp;
beforeAll(async () => {
  app = await startSpawnedApp({ name: 'scale-out', workers: 2 });
}, 150_000);
afterAll(async () => {
  await app?.stop();
});

const sim = (method: string, path: string, body?: unknown) => http(method, `${app.simulatorUrl}${path}`, body);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface SimOrder {
  order_id: string;
  token_id?: string;
  idempotency_key?: string;
}
const ordersAtKlarna = async (token: string) => ((await sim('GET', '/_sim/orders')).body as SimOrder[]).filter((o) => o.token_id === token);

const chargeBody = (tokenRef: string, reference: string) => ({
  token_ref: tokenRef,
  purchase_currency: 'SEK',
  order_amount: 19900,
  order_tax_amount: 0,
  order_lines: [{ type: 'digital', name: 'Coffee, monthly', quantity: 1, unit_price: 19900, total_amount: 19900 }],
  merchant_reference: reference,
  customer_present: false,
});

/** A charge as a checkout service makes it: POST (again on a 503: same key), then read until it ends. */
async function chargeToEnd(key: string, tokenRef: string): Promise<ChargeStatus> {
  for (let tries = 0; ; tries++) {
    const r = await http('POST', `${app.apiUrl}/v1/charges?wait=20s`, chargeBody(tokenRef, key), { 'idempotency-key': key });
    if ((r.status === 200 || r.status === 201) && (r.body.state === 'COMPLETED' || r.body.state === 'FAILED')) return r.body;
    if (r.status === 202 || r.status === 200 || r.status === 201) break;
    if (r.status !== 503 || tries > 20) throw new Error(`POST /v1/charges ${key}: ${r.status} ${JSON.stringify(r.body)}`);
    await sleep(1_000);
  }
  return eventually(
    async () => {
      const r = await http('GET', `${app.apiUrl}/v1/charges/charge-${key}?wait=20s`);
      return r.body?.state === 'COMPLETED' || r.body?.state === 'FAILED' ? (r.body as ChargeStatus) : undefined;
    },
    `charge ${key} to end`,
    90_000,
  );
}

/** A tokenization: started over the API, approved by the shopper at Klarna (whose callback reaches the API), read until it ends. */
async function tokenizeToEnd(key: string): Promise<{ flow_id: string; session_id: string; state: string }> {
  const started = await http('POST', `${app.apiUrl}/v1/tokenizations`, tokenizationBody(key), { 'idempotency-key': key });
  if (started.status !== 201) throw new Error(`POST /v1/tokenizations ${key}: ${started.status} ${JSON.stringify(started.body)}`);
  const authorized = await sim('POST', `/_sim/sessions/${started.body.session_id}/authorize`, { outcome: 'approve' });
  if (authorized.status !== 200) throw new Error(`authorize ${key}: ${authorized.status}`);
  return eventually(
    async () => {
      const r = await http('GET', `${app.apiUrl}/v1/tokenizations/${started.body.flow_id}?wait=20s`);
      return r.body?.state === 'COMPLETED' || r.body?.state === 'FAILED' ? r.body : undefined;
    },
    `tokenization ${key} to end`,
    60_000,
  );
}

const EventType = protos.temporal.api.enums.v1.EventType;

interface FlowWork {
  id: string;
  events: number;
  /** Identity of the worker of each workflow task, with the time it started. */
  workflowTasks: { identity: string; at: number }[];
  /** Each activity as completed: its worker, the attempt that completed it, and when that attempt started. */
  activities: { type: string; identity: string; attempt: number; at: number }[];
  /** Billable actions (Temporal Cloud's list), estimated from the history. */
  actions: Record<string, number>;
}

/**
 * Reads a flow's history. Actions, as Temporal Cloud counts them: the start, each update accepted,
 * each signal, each activity attempt, local activities once per workflow task that ran any, each
 * timer, each search-attribute upsert, each child started, each external signal. Queries (none
 * on these paths) and heartbeats (none) would add to it.
 */
async function workOf(id: string): Promise<FlowWork> {
  const events = (await app.temporal.workflow.getHandle(id).fetchHistory()).events ?? [];
  const at = (e: (typeof events)[number]) => Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);
  const scheduled = new Map<string, string>();
  const of = (type: number) => events.filter((e) => e.eventType === type).length;
  for (const e of events) {
    if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) scheduled.set(String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType!.name!);
  }
  const activities = events
    .filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
    .map((e) => {
      const a = e.activityTaskStartedEventAttributes!;
      return { type: scheduled.get(String(a.scheduledEventId)) ?? '?', identity: a.identity!, attempt: a.attempt!, at: at(e) };
    });
  const localActivityTasks = new Set(
    events.filter((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED && e.markerRecordedEventAttributes!.markerName === 'core_local_activity').map((e) => String(e.markerRecordedEventAttributes!.workflowTaskCompletedEventId)),
  );
  const upserts = events.filter(
    (e) =>
      e.eventType === EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES &&
      Object.keys(e.upsertWorkflowSearchAttributesEventAttributes!.searchAttributes?.indexedFields ?? {}).some((k) => k !== 'TemporalChangeVersion'),
  ).length;
  return {
    id,
    events: events.length,
    workflowTasks: events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED).map((e) => ({ identity: e.workflowTaskStartedEventAttributes!.identity!, at: at(e) })),
    activities,
    actions: {
      start: of(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED),
      updates: of(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
      signals: of(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED),
      activities: activities.reduce((n, a) => n + a.attempt, 0),
      localActivities: localActivityTasks.size,
      timers: of(EventType.EVENT_TYPE_TIMER_STARTED),
      searchAttributes: upserts,
      children: of(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED),
      externalSignals: of(EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED),
    },
  };
}
const total = (w: FlowWork) => Object.values(w.actions).reduce((a, b) => a + b, 0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Per flow type: median events and actions, and the median of each kind of action. */
function profile(works: FlowWork[]) {
  const kinds = Object.keys(works[0]!.actions);
  return {
    flows: works.length,
    events: median(works.map((w) => w.events)),
    workflowTasks: median(works.map((w) => w.workflowTasks.length)),
    actions: median(works.map(total)),
    byKind: Object.fromEntries(kinds.map((k) => [k, median(works.map((w) => w.actions[k]!))])),
  };
}

describe('two workers on one task queue', () => {
  it('40 flows through the API: all complete, one effect each at Klarna, both workers take a share', async () => {
    const [first, second] = app.workers as [SpawnedApp['workers'][number], SpawnedApp['workers'][number]];
    const { tokenRef, token } = await vaultedToken(app);
    const run = randomUUID().slice(0, 8);
    const chargeKeys = Array.from({ length: 30 }, (_, i) => `share-${run}-${i}`);
    const tokenizeKeys = Array.from({ length: 10 }, (_, i) => `share-tok-${run}-${i}`);
    const [charges, tokenizations] = await Promise.all([Promise.all(chargeKeys.map((k) => chargeToEnd(k, tokenRef))), Promise.all(tokenizeKeys.map((k) => tokenizeToEnd(k)))]);
    expect(charges.map((c) => c.state)).toEqual(chargeKeys.map(() => 'COMPLETED'));
    expect(tokenizations.map((t) => t.state)).toEqual(tokenizeKeys.map(() => 'COMPLETED'));

    // Klarna: one order per charge, under its key, and the one each charge shows.
    const orders = await ordersAtKlarna(token);
    expect(orders.map((o) => o.idempotency_key).sort()).toEqual(chargeKeys.map((k) => `charge-${k}`).sort());
    expect(charges.map((c) => c.order!.order_id).sort()).toEqual(orders.map((o) => o.order_id).sort());
    // One customer token per tokenization at Klarna, and that one vaulted with us.
    const made = await Promise.all(
      tokenizations.map(async (t) => ((await sim('GET', `/_sim/sessions/${t.session_id}`)).body.authorizations as { customer_token_id?: string }[]).map((a) => a.customer_token_id).filter(Boolean)),
    );
    expect(made.map((m) => m.length)).toEqual(tokenizeKeys.map(() => 1));
    const vaulted = await app.mongo.db.collection<CustomerTokenDocument>(collections.customerTokens).find({ flow_id: { $in: tokenizations.map((t) => t.flow_id) } }).toArray();
    expect(vaulted).toHaveLength(tokenizeKeys.length);
    expect(vaulted.map((d) => app.vault.open(d.token)).sort()).toEqual(made.flat().sort());

    // Who did the work: both workers, and nobody else.
    const chargeWork = await Promise.all(chargeKeys.map((k) => workOf(`charge-${k}`)));
    const tokenizeWork = await Promise.all(tokenizations.map((t) => workOf(t.flow_id)));
    const all = [...chargeWork, ...tokenizeWork];
    const count = (pick: (w: FlowWork) => { identity: string }[]) => {
      const byWorker = new Map<string, number>();
      for (const w of all) for (const t of pick(w)) byWorker.set(t.identity, (byWorker.get(t.identity) ?? 0) + 1);
      return byWorker;
    };
    const workflowTasks = count((w) => w.workflowTasks);
    const activities = count((w) => w.activities);
    expect([...workflowTasks.keys()].sort()).toEqual([first.identity, second.identity].sort());
    expect([...activities.keys()].sort()).toEqual([first.identity, second.identity].sort());
    // A fair share each: at least a sixth of the workflow tasks, the activities and the flows started.
    const firstTasks = count((w) => w.workflowTasks.slice(0, 1));
    for (const [what, byWorker] of [['workflow tasks', workflowTasks], ['activities', activities], ['first workflow tasks', firstTasks]] as const) {
      const sum = [...byWorker.values()].reduce((a, b) => a + b, 0);
      for (const w of [first, second]) expect(byWorker.get(w.identity) ?? 0, `${what} of ${w.name}: ${JSON.stringify(Object.fromEntries(byWorker))}`).toBeGreaterThanOrEqual(sum / 6);
    }
    const figures = { charge: profile(chargeWork), tokenize: profile(tokenizeWork), workflowTasks: Object.fromEntries(workflowTasks), activities: Object.fromEntries(activities) };
    console.info(`scale-out figures: ${JSON.stringify(figures)}`);
    // The shape of each flow (docs/performance.md, "Scale-out"): one update-started charge with one
    // Klarna call; a tokenization with its session, token and vault calls and the shopper's signal.
    expect(figures.charge.byKind).toMatchObject({ start: 1, updates: 1, activities: 1, signals: 0, children: 0 });
    expect(figures.tokenize.byKind).toMatchObject({ start: 1, activities: 3, children: 0 });
    expect(figures.tokenize.byKind.signals).toBeGreaterThanOrEqual(1);
  }, 90_000);

  it('one worker SIGKILLed mid-run with a charge in flight: the other finishes every charge, one order each', async () => {
    const [victim, survivor] = app.workers as [SpawnedApp['workers'][number], SpawnedApp['workers'][number]];
    const { tokenRef, token } = await vaultedToken(app);
    const run = randomUUID().slice(0, 8);
    const keys = Array.from({ length: 20 }, (_, i) => `kill-${run}-${i}`);
    // Klarna places each order and holds its answer 8 s: calls stay in flight on both workers.
    expect((await sim('POST', '/_sim/faults', { path: `/customer-token/v1/tokens/${token}/order`, phase: 'after', latencyMs: 8_000, count: keys.length })).status).toBe(200);
    const done = Promise.all(keys.map((k) => chargeToEnd(k, tokenRef)));
    done.catch(() => undefined);

    // Kill the first worker once a call it made is at Klarna, unanswered (the simulator's request
    // log; the worker from Temporal's pending activities).
    const lost = await eventually(
      async () => {
        const log = (await sim('GET', `/_sim/requests?method=POST&path_prefix=/customer-token/v1/tokens/${token}/order`)).body as { idempotency_key?: string; status: number | null }[];
        for (const id of log.filter((r) => r.status === null).map((r) => r.idempotency_key!)) {
          const description = await app.temporal.workflow.getHandle(id).describe().catch(() => undefined);
          if (description?.raw.pendingActivities?.some((a) => a.lastWorkerIdentity === victim.identity)) return id;
        }
        return undefined;
      },
      'a call in flight on the first worker',
      20_000,
    );
    await app.kill(victim);
    const killedAt = Date.now();

    const charges = await done;
    expect(charges.map((c) => c.state)).toEqual(keys.map(() => 'COMPLETED'));
    const orders = await ordersAtKlarna(token);
    expect(orders.map((o) => o.idempotency_key).sort()).toEqual(keys.map((k) => `charge-${k}`).sort());
    expect(charges.map((c) => c.order!.order_id).sort()).toEqual(orders.map((o) => o.order_id).sort());

    // The lost call: retried by the survivor under the same key, answered from it (one order).
    const requests = (await sim('GET', '/_sim/requests?method=POST&path_prefix=/customer-token/')).body as { path: string; idempotency_key?: string }[];
    const lostWork = await workOf(lost);
    expect(lostWork.activities).toEqual([expect.objectContaining({ type: 'placeTokenOrder', identity: survivor.identity })]);
    expect(lostWork.activities[0]!.attempt).toBeGreaterThanOrEqual(2);
    expect(requests.filter((r) => r.idempotency_key === lost)).toHaveLength(lostWork.activities[0]!.attempt);
    // After the kill only the survivor worked; before it, both had.
    const works = await Promise.all(keys.map((k) => workOf(`charge-${k}`)));
    const tasks = works.flatMap((w) => [...w.workflowTasks, ...w.activities]);
    const after = tasks.filter((t) => t.at > killedAt + 1_000);
    expect(after.length).toBeGreaterThan(0);
    expect(new Set(after.map((t) => t.identity))).toEqual(new Set([survivor.identity]));
    expect(new Set(tasks.map((t) => t.identity))).toEqual(new Set([victim.identity, survivor.identity]));
  }, 120_000);
});
