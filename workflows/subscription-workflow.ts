import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  executeChild,
  ParentClosePolicy,
  patched,
  proxyActivities,
  startChild,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities/index.js';
import { dueAt, lastDuePeriod, type BillingCadence } from '../contracts/billing-calendar.js';
import type { ChargeStatus } from '../contracts/charge.js';
import type { MerchantEvent, MerchantEventType } from '../contracts/merchant-events.js';
import { tokenMaintenanceIdPrefix } from '../contracts/flow-states.js';
import type { BillingPeriod, CatchUpPolicy, ChangeSubscriptionRequest, SubscriptionInput, SubscriptionStatus } from '../contracts/subscription.js';
import {
  dayMs,
  initialSubscriptionStatus,
  isRetryableRenewalFailure,
  MAX_PERIODS_KEPT,
  ON_TIME_TOLERANCE_MS,
  periodChargeId,
  periodChargeInput,
  planFromRequest,
} from '../contracts/subscription-rules.js';
import { ownStorage, ownStorageLocal } from './activity-presets.js';
import { chargeWorkflow } from './charge-workflow.js';
import {
  cancelSubscriptionUpdate,
  changeSubscriptionUpdate,
  chargeNowUpdate,
  pauseSubscriptionUpdate,
  resumeSubscriptionUpdate,
  SUBSCRIPTION_CONFLICT,
  subscriptionStatusQuery,
} from './definitions.js';
import { FlowState, FlowType, MerchantReference, SubscriptionId } from './search-attributes.js';
import { merchantEventDeliveryWorkflow } from './merchant-event-delivery-workflow.js';
import { cancelTokenWorkflow } from './token-maintenance-workflows.js';

/** Subscriptions notify the merchant (outbound webhooks) since this patch; earlier runs do not. */
export const MERCHANT_NOTIFICATIONS_PATCH = 'merchant-notifications';
const deadTokenKinds = new Set(['token_not_found', 'token_suspended', 'token_cancelled', 'token_forbidden']);

const { storedChargeOutcome } = proxyActivities<Activities>(ownStorage);
// Status writes as local activities (small, idempotent by `seq`): fewer events per period.
const { recordFlowStatus } = proxyLocalActivities<Activities>(ownStorageLocal);

const conflict = (message: string) => ApplicationFailure.create({ type: SUBSCRIPTION_CONFLICT, message, nonRetryable: true });

/**
 * One subscription, for as long as it lives: sleeps (durable timer) until the next period is due,
 * charges it as a child `chargeWorkflow` with the deterministic id `charge-<sub id>-<n>` under
 * REJECT_DUPLICATE (so no overlap, retry, catch-up or "charge now" can charge a period twice),
 * retries failed renewals on the dunning schedule (`…-<n>-retry-<k>`), and continues as new every
 * `periods_per_run` settled periods, carrying its state, so its history stays bounded.
 */
export async function subscriptionWorkflow(input: SubscriptionInput): Promise<SubscriptionStatus> {
  const cadence: BillingCadence = { anchor: input.billing_anchor, time_zone: input.time_zone, interval: input.interval, interval_count: input.interval_count };
  const now = () => Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const startedAt = iso(now());
  const status: SubscriptionStatus = input.carried?.status ?? initialSubscriptionStatus(input, iso(dueAt(cadence, 0)), startedAt);
  let seq = input.carried?.seq ?? 0;
  const perRun = input.periods_per_run ?? 12;
  let settledThisRun = 0;
  /** Bumped by every update that changes what the loop should do: wakes its timers. */
  let changes = 0;
  /** A policy for the periods due now, given by `resume`; used once. */
  let resumePolicy: CatchUpPolicy | undefined = input.carried?.resume_policy;
  let chargeNowRequests = 0;
  let chargeNowServed = 0;
  let chargeNowTarget: number | undefined;
  let cancelTokenRequested = false;

  upsertSearchAttributes([
    { key: FlowType, value: 'subscription' },
    { key: MerchantReference, value: status.merchant_reference },
    { key: FlowState, value: status.state },
    { key: SubscriptionId, value: status.flow_id },
  ]);

  /**
   * Tells the merchant (a child delivery workflow per event, id = event id, never awaited: a slow
   * receiver does not hold up billing). Event ids are deterministic, so a replayed or repeated
   * emission is the same event.
   */
  const notify = async (id: string, type: MerchantEventType, data: Record<string, unknown>, extra: Partial<MerchantEvent> = {}) => {
    if (!input.notify_merchant || !patched(MERCHANT_NOTIFICATIONS_PATCH)) return;
    const event: MerchantEvent = { id, type, created_at: iso(now()), subscription_id: status.flow_id, token_ref: status.token_ref, ...extra, data };
    try {
      await startChild(merchantEventDeliveryWorkflow, {
        workflowId: id,
        args: [{ event, ...(input.notification_policy ? { policy: input.notification_policy } : {}) }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  };
  let notifiedState = status.state;
  const save = async () => {
    await saveStatus();
    // Subscription states the merchant must act on, each once per transition.
    if (status.state !== notifiedState) {
      const to = status.state;
      notifiedState = to;
      const type = to === 'PAST_DUE' ? 'subscription.past_due' : to === 'SUSPENDED' ? 'subscription.suspended' : to === 'CANCELLED' ? 'subscription.cancelled' : undefined;
      if (type) await notify(`evt-${status.flow_id}-${to.toLowerCase()}-${seq}`, type, { state: to, ...(status.failure ? { failure_kind: status.failure.kind } : {}) });
    }
  };
  const saveStatus = async () => {
    status.next_billing_at = status.state === 'CANCELLED' ? undefined : iso(dueAt(cadence, status.next_period));
    if (status.next_billing_at === undefined) delete status.next_billing_at;
    status.updated_at = iso(now());
    if (status.periods.length > MAX_PERIODS_KEPT) status.periods.splice(0, status.periods.length - MAX_PERIODS_KEPT);
    seq += 1;
    await recordFlowStatus({ flow_id: status.flow_id, seq, status: JSON.parse(JSON.stringify(status)) as SubscriptionStatus });
    upsertSearchAttributes([{ key: FlowState, value: status.state }]);
  };
  const period = (n: number) => status.periods.find((p) => p.index === n);
  const inDunning = () => status.periods.find((p) => p.state === 'RETRY_SCHEDULED');
  const cancel = () => {
    status.state = 'CANCELLED';
    status.cancelled_at = iso(now());
    for (const p of status.periods) {
      if (p.state === 'RETRY_SCHEDULED') {
        p.state = 'FAILED';
        delete p.next_retry_at;
      }
    }
  };

  /** Periods from next_period to the one due now are decided without a charge: skipped. */
  const skipDue = (reason: string) => {
    const last = lastDuePeriod(cadence, now(), status.next_period);
    for (let n = status.next_period; n <= last; n++) {
      status.periods.push({ index: n, due_at: iso(dueAt(cadence, n)), state: 'SKIPPED', skip_reason: reason, order_amount: status.plan.order_amount, attempts: [] });
      settledThisRun += 1;
    }
    status.next_period = Math.max(status.next_period, last + 1);
  };

  const notIn = (states: SubscriptionStatus['state'][], what: string) => {
    if (states.includes(status.state)) reject(`cannot ${what} a ${status.state} subscription`);
  };

  setHandler(subscriptionStatusQuery, () => status);
  setHandler(
    pauseSubscriptionUpdate,
    async () => {
      if (status.state !== 'PAUSED') {
        status.state = 'PAUSED';
        changes += 1;
        await save();
      }
      return status;
    },
    { validator: () => notIn(['SUSPENDED', 'CANCELLED'], 'pause') },
  );
  setHandler(
    resumeSubscriptionUpdate,
    async ({ catch_up }) => {
      if (status.state === 'PAUSED' || status.state === 'SUSPENDED') {
        // Periods that fell due meanwhile: skipped (no back-charges) unless a policy is given.
        if (catch_up) resumePolicy = catch_up;
        else skipDue('paused');
        status.state = inDunning() ? 'PAST_DUE' : 'ACTIVE';
        delete status.failure;
        changes += 1;
        await save();
      }
      return status;
    },
    { validator: (_request: { catch_up?: CatchUpPolicy }) => notIn(['CANCELLED'], 'resume') },
  );
  setHandler(
    changeSubscriptionUpdate,
    async (request) => {
      status.pending_plan = planFromRequest({ ...request, purchase_currency: status.plan.purchase_currency }, status);
      changes += 1;
      await save();
      return status;
    },
    { validator: (_request: ChangeSubscriptionRequest) => notIn(['CANCELLED'], 'change') },
  );
  setHandler(cancelSubscriptionUpdate, async ({ cancel_token }) => {
    if (cancel_token) cancelTokenRequested = true;
    if (status.state !== 'CANCELLED') {
      cancel();
      if (cancel_token) status.token_cancel = 'requested';
      changes += 1;
      await save();
    } else if (cancel_token && !status.token_cancel) {
      status.token_cancel = 'requested';
      changes += 1;
    }
    // Answer once the token cancel (if asked for) has its outcome.
    await condition(() => status.token_cancel !== 'requested');
    return status;
  });
  setHandler(
    chargeNowUpdate,
    async () => {
      const n = lastDuePeriod(cadence, now());
      const paid = period(n);
      if (paid?.state === 'PAID') return paid;
      chargeNowTarget = n;
      const ticket = ++chargeNowRequests;
      changes += 1;
      await condition(() => chargeNowServed >= ticket);
      const settled = period(n);
      if (!settled) throw conflict(`period ${n} was not charged (the subscription is ${status.state})`);
      return settled;
    },
    {
      validator: () => {
        if (status.state === 'PAUSED' || status.state === 'SUSPENDED' || status.state === 'CANCELLED') reject(`cannot charge a ${status.state} subscription`);
        if (lastDuePeriod(cadence, now()) < 0) reject(`no period is due yet: the first is due at ${iso(dueAt(cadence, 0))}`);
      },
    },
  );

  /** One try of period `rec` (a new child charge), and what its outcome means for dunning. */
  async function attempt(rec: BillingPeriod): Promise<void> {
    const k = rec.attempts.length;
    const chargeId = periodChargeId(status.flow_id, rec.index, k);
    const record: BillingPeriod['attempts'][number] = { charge_id: chargeId, state: 'PLACING_ORDER', at: iso(now()) };
    rec.attempts.push(record);
    rec.state = 'CHARGING';
    delete rec.next_retry_at;
    const charge = await runCharge(chargeId, rec);
    record.state = charge.state === 'COMPLETED' ? 'COMPLETED' : 'FAILED';
    record.at = iso(now());
    if (charge.order) {
      record.order_id = charge.order.order_id;
      rec.state = 'PAID';
      if (status.state === 'PAST_DUE') status.state = 'ACTIVE';
      delete status.failure;
    } else {
      const failure = charge.failure ?? { kind: 'internal', message: 'the charge ended without an order' };
      record.failure_kind = failure.kind;
      const retries = status.dunning.retry_after_days;
      if (isRetryableRenewalFailure(failure.kind) && k < retries.length && status.state !== 'CANCELLED') {
        rec.state = 'RETRY_SCHEDULED';
        rec.next_retry_at = iso(Date.parse(rec.due_at) + retries[k]! * dayMs);
        if (status.state === 'ACTIVE') status.state = 'PAST_DUE';
      } else {
        // The last try, or a dead token (no retry can help): the policy's end state.
        rec.state = 'FAILED';
        status.failure = failure;
        if (status.state === 'ACTIVE' || status.state === 'PAST_DUE') {
          if (status.dunning.on_exhausted === 'CANCEL') cancel();
          else status.state = 'SUSPENDED';
        }
      }
    }
    await save();
    const renewal = { period: rec.index, due_at: rec.due_at, attempt: k, order_amount: rec.order_amount };
    if (charge.order) {
      await notify(`evt-${chargeId}`, 'renewal.succeeded', { ...renewal, order_id: charge.order.order_id }, { charge_id: chargeId });
    } else {
      const kind = record.failure_kind ?? 'internal';
      await notify(`evt-${chargeId}`, 'renewal.failed', { ...renewal, failure_kind: kind, ...(rec.next_retry_at ? { next_retry_at: rec.next_retry_at } : {}) }, { charge_id: chargeId });
      if (deadTokenKinds.has(kind)) await notify(`evt-${chargeId}-token`, 'token.status_changed', { failure_kind: kind }, { charge_id: chargeId });
    }
  }

  async function runCharge(chargeId: string, rec: BillingPeriod): Promise<ChargeStatus> {
    try {
      return await executeChild(chargeWorkflow, {
        workflowId: chargeId,
        args: [periodChargeInput(input, status, chargeId, rec.index)],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        // A renewal in flight finishes even if the subscription's run ends (it is at most once anyway).
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: [{ key: SubscriptionId, value: status.flow_id }],
      });
    } catch (err) {
      // This period's try was started before (an earlier run): its outcome, not a second order.
      if (err instanceof WorkflowExecutionAlreadyStartedError) return (await storedChargeOutcome({ charge_id: chargeId })) as ChargeStatus;
      return { failure: { kind: 'internal', message: err instanceof Error ? err.message : String(err) } } as ChargeStatus;
    }
  }

  /** A new period: its record, with the plan in force (a pending change starts here). */
  function openPeriod(n: number, state: BillingPeriod['state'], skipReason?: string): BillingPeriod {
    if (state !== 'SKIPPED' && status.pending_plan) {
      status.plan = status.pending_plan;
      delete status.pending_plan;
    }
    const rec: BillingPeriod = { index: n, due_at: iso(dueAt(cadence, n)), state, ...(skipReason ? { skip_reason: skipReason } : {}), order_amount: status.plan.order_amount, attempts: [] };
    status.periods.push(rec);
    status.next_period = Math.max(status.next_period, n + 1);
    settledThisRun += 1;
    return rec;
  }

  /** Settles every period due now, by the catch-up policy: each charged at most once. */
  async function settleDue(policy: CatchUpPolicy): Promise<void> {
    const first = status.next_period;
    const last = lastDuePeriod(cadence, now(), first);
    for (let n = first; n <= last; n++) {
      const charge =
        policy === 'charge_all' || (n === last && (policy === 'charge_latest' || now() - dueAt(cadence, n) <= ON_TIME_TOLERANCE_MS));
      if (!charge) {
        openPeriod(n, 'SKIPPED', 'missed');
        continue;
      }
      await attempt(openPeriod(n, 'CHARGING'));
      // Dunning, a pause or a cancel during the charge: the rest waits for the next turn.
      if (status.state !== 'ACTIVE') break;
      // A long catch-up (charge_all) goes on in the next run, under the same policy: each run's history stays bounded.
      if (n < last && settledThisRun >= perRun) {
        if (policy !== status.catch_up) resumePolicy = policy;
        break;
      }
    }
    await save();
  }

  /** Waits until `at` or until an update changes something; true when the time was reached. */
  async function sleepUntil(at: number): Promise<boolean> {
    const seen = changes;
    const ms = at - now();
    if (ms <= 0) return true;
    return !(await condition(() => changes !== seen, ms));
  }

  const isChargeable = () => status.state === 'ACTIVE' || status.state === 'PAST_DUE';

  await save();
  for (;;) {
    if (status.state === 'CANCELLED') break;
    if (chargeNowTarget !== undefined && (status.state === 'ACTIVE' || status.state === 'PAST_DUE')) {
      const n = chargeNowTarget;
      const served = chargeNowRequests;
      chargeNowTarget = undefined;
      const before = period(n)?.attempts.length ?? 0;
      if (n >= status.next_period) await settleDue(resumePolicy ?? status.catch_up);
      resumePolicy = undefined;
      const rec = period(n);
      if (rec && rec.state !== 'PAID' && rec.state !== 'CHARGING' && rec.attempts.length === before && isChargeable()) await attempt(rec);
      chargeNowServed = served;
      continue;
    }
    if (chargeNowServed < chargeNowRequests || chargeNowTarget !== undefined) {
      // Nothing can be charged in this state: the waiting calls get the period as it is.
      chargeNowTarget = undefined;
      chargeNowServed = chargeNowRequests;
    }
    if (status.state === 'PAUSED' || status.state === 'SUSPENDED') {
      const seen = changes;
      await condition(() => changes !== seen);
      continue;
    }
    if ((settledThisRun >= perRun || workflowInfo().continueAsNewSuggested) && !inDunning()) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof subscriptionWorkflow>({ ...input, carried: { status, seq, ...(resumePolicy ? { resume_policy: resumePolicy } : {}) } });
    }
    const dunning = inDunning();
    if (dunning) {
      if (await sleepUntil(Date.parse(dunning.next_retry_at!))) {
        if (status.state === 'PAST_DUE' || status.state === 'ACTIVE') await attempt(dunning);
      }
      continue;
    }
    if (resumePolicy !== undefined || (await sleepUntil(dueAt(cadence, status.next_period)))) {
      if (status.state !== 'ACTIVE') continue;
      const policy = resumePolicy ?? status.catch_up;
      resumePolicy = undefined;
      await settleDue(policy);
    }
  }

  // Cancelled: no further charges. The token too, when asked (the DELETE /v1/tokens workflow, same id).
  if (cancelTokenRequested) {
    status.token_cancel = 'requested';
    try {
      const id = `${tokenMaintenanceIdPrefix.cancel}${status.token_ref}`;
      await executeChild(cancelTokenWorkflow, {
        workflowId: id,
        args: [{ token_ref: status.token_ref, idempotency_key: id }],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
      status.token_cancel = 'done';
    } catch (err) {
      status.token_cancel = err instanceof WorkflowExecutionAlreadyStartedError ? 'done' : 'failed';
    }
  }
  chargeNowServed = chargeNowRequests;
  await save();
  await condition(allHandlersFinished);
  return status;
}

function reject(message: string): never {
  throw conflict(message);
}
