import { ApplicationFailure, condition, log, patched, proxyActivities, setHandler, uuid4 } from '@temporalio/workflow';
import { isTerminalTokenizeState } from '../contracts/flow-states.js';
import type { CancellationReason, TokenizeStatus } from '../contracts/flow-status.js';
import type { ShopperAuthorization, TokenizeInput } from '../contracts/tokenize.js';
import type { Activities } from '../activities/index.js';
import { klarnaCall, ownStorage } from './activity-presets.js';
import {
  cancelFlowUpdate,
  checkoutSessionUpdate,
  IDEMPOTENCY_CONFLICT,
  NOT_CANCELLABLE,
  shopperAuthorizedSignal,
  tokenizeStatusQuery,
} from './definitions.js';
import { describeFailure } from './describe-failure.js';
import { trackFlowStatus } from './flow-status-tracker.js';
import { legacyTokenizeV1 } from './legacy/tokenize-workflow-v1.js';

/** Klarna: an authorization token can be used for 60 minutes (seed 001). */
export const AUTHORIZATION_LIFETIME_MS = 60 * 60 * 1000;

/**
 * While waiting, the flow also reads the inbox itself, rarely: after 10 minutes, doubling to once
 * an hour (patch `inbox-check-rare`). The read is only the last safety net: the API signals every
 * stored event, keeps trying for 10 minutes, and every API instance sweeps the inbox for events
 * still pending (api/authorization-inbox.ts). Before that patch: after 5 s doubling to 5 minutes
 * (`inbox-check-5min`), before that to 1 minute; each read is an activity and two workflow tasks
 * (often a replay of an evicted flow), which made thousands of waiting flows cost a core
 * (docs/performance.md, "Many waiting flows").
 */
const INBOX_CHECK_FIRST_MS = 5_000;
export const INBOX_CHECK_PATCH = 'inbox-check-5min';
export const INBOX_CHECK_RARE_PATCH = 'inbox-check-rare';
export function inboxCheckSchedule(): { firstMs: number; maxMs: number } {
  if (patched(INBOX_CHECK_RARE_PATCH)) return { firstMs: 10 * 60_000, maxMs: 60 * 60_000 };
  return { firstMs: INBOX_CHECK_FIRST_MS, maxMs: patched(INBOX_CHECK_PATCH) ? 300_000 : 60_000 };
}

/** Executions started before the flow platform run the frozen v1 code (workflows/legacy/). */
export const FLOW_PLATFORM_PATCH = 'flow-platform-v2';

const { createPaymentSession } = proxyActivities<Activities>({
  ...klarnaCall,
  // Creating a session has no deadline of its own; give up after a while so the flow ends FAILED.
  scheduleToCloseTimeout: '10m',
});
const { releaseAuthorizations } = proxyActivities<Activities>({ ...klarnaCall, scheduleToCloseTimeout: '2m' });
const { vaultCustomerToken, collectPendingAuthorizations, markEventsDelivered } = proxyActivities<Activities>(ownStorage);

type Candidate = ShopperAuthorization & { received_at_ms: number };

/**
 * Tokenize saga (`intent: tokenize`): session → shopper authorization → customer token → vault.
 * Terminal states: COMPLETED, ABANDONED (no valid authorization in time), EXPIRED (Klarna's
 * authorization ran out before the token was created), FAILED (Klarna refused; `failure` says
 * why), CANCELLED (cancelled while waiting; `cancellation` says why). Every Klarna POST carries an idempotency key made here, so a retry after a lost reply or
 * a killed worker gets Klarna's first answer: one session and at most one token per flow.
 */
export async function tokenizeWorkflow(input: TokenizeInput): Promise<TokenizeStatus> {
  if (!patched(FLOW_PLATFORM_PATCH)) return legacyTokenizeV1(input);

  const startedAt = new Date(Date.now()).toISOString();
  const flow = trackFlowStatus<TokenizeStatus>(
    {
      flow_id: input.flow_id,
      flow_type: 'tokenize',
      state: 'CREATING_SESSION',
      merchant_reference: input.merchant_reference,
      ignored_authorizations: 0,
      rejected_authorizations: 0,
      started_at: startedAt,
      updated_at: startedAt,
    },
    isTerminalTokenizeState,
  );
  const { status } = flow;

  /** Authorizations received and not yet tried, oldest first; each inbox event and token once. */
  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  const take = (auth: ShopperAuthorization): boolean => {
    const wrongSession = auth.session_id !== undefined && status.session_id !== undefined && auth.session_id !== status.session_id;
    const duplicate = seen.has(auth.authorization_token) || (auth.event_id !== undefined && seen.has(auth.event_id));
    if (!flow.open || wrongSession || duplicate) {
      status.ignored_authorizations += 1;
      log.info('authorization ignored', {
        flowId: input.flow_id,
        source: auth.source,
        reason: wrongSession ? 'other session' : duplicate ? 'duplicate' : (flow.outcome ?? status.state),
      });
      return false;
    }
    seen.add(auth.authorization_token);
    if (auth.event_id) seen.add(auth.event_id);
    candidates.push({ ...auth, received_at_ms: Date.now() });
    return true;
  };

  setHandler(tokenizeStatusQuery, () => status);
  setHandler(
    checkoutSessionUpdate,
    async (request) => {
      await condition(() => status.session_id !== undefined || isTerminalTokenizeState(status.state));
      return { status, created: request.request_id === input.start_request_id };
    },
    {
      validator: (request) => {
        if (input.request_fingerprint && request.request_fingerprint !== input.request_fingerprint) {
          throw ApplicationFailure.create({ type: IDEMPOTENCY_CONFLICT, message: 'the idempotency key was used with a different request' });
        }
      },
    },
  );
  setHandler(shopperAuthorizedSignal, (signal) => {
    take(signal);
  });

  // Cancel (the shopper declined or closed the widget, or the merchant gave up): only while the
  // flow waits. Once Klarna is creating the token the outcome is Klarna's to give.
  let cancelRequest: CancellationReason | undefined;
  const cancellable = () => flow.open && (status.state === 'CREATING_SESSION' || status.state === 'AWAITING_AUTHORIZATION');
  setHandler(
    cancelFlowUpdate,
    async ({ reason }) => {
      cancelRequest ??= reason;
      await condition(() => isTerminalTokenizeState(status.state));
      return status;
    },
    {
      validator: (_request) => {
        if (!cancellable() && cancelRequest === undefined) {
          throw ApplicationFailure.create({ type: NOT_CANCELLABLE, message: `the flow is ${flow.outcome ?? status.state}; it can no longer be cancelled` });
        }
      },
    },
  );
  const finishCancelled = async () => {
    status.cancellation = { reason: cancelRequest!, cancelled_at: new Date(Date.now()).toISOString() };
    // Authorizations received but never used are released at Klarna (best effort).
    const unused = candidates.splice(0).map((c) => c.authorization_token);
    if (unused.length > 0) await releaseAuthorizations({ flow_id: input.flow_id, authorization_tokens: unused }).catch(() => undefined);
    return flow.finish('CANCELLED');
  };

  try {
    const session = await createPaymentSession({
      flow_id: input.flow_id,
      intent: 'tokenize',
      session: input.session,
      idempotency_key: uuid4(),
    });
    status.session_id = session.session_id;
    status.client_token = session.client_token;
  } catch (err) {
    return flow.finish('FAILED', describeFailure(err));
  }
  if (cancelRequest) return finishCancelled();
  flow.moveTo('AWAITING_AUTHORIZATION');
  await flow.save();

  const abandonAtMs = Date.now() + input.abandonment_timeout_ms;
  const inboxCheck = inboxCheckSchedule();
  let inboxCheckMs = inboxCheck.firstMs;
  const inboxCheckMax = inboxCheck.maxMs;

  for (;;) {
    // Wait for an authorization; between waits, read the inbox: an event stored while Temporal
    // could not take the signal (an outage, a lost reply) is picked up here.
    while (candidates.length === 0 && !cancelRequest) {
      const remaining = abandonAtMs - Date.now();
      if (remaining <= 0) return flow.finish('ABANDONED');
      if (await condition(() => candidates.length > 0 || cancelRequest !== undefined, Math.min(inboxCheckMs, remaining))) break;
      if (Date.now() >= abandonAtMs) return flow.finish('ABANDONED');
      const pending = await collectPendingAuthorizations({ flow_id: input.flow_id });
      const taken = pending.filter((auth) => take(auth));
      if (pending.length > 0) await markEventsDelivered({ event_ids: pending.map((auth) => auth.event_id!) });
      if (taken.length === 0) inboxCheckMs = Math.min(inboxCheckMs * 2, inboxCheckMax);
    }

    if (cancelRequest) return finishCancelled();
    const auth = candidates.shift()!;
    const expiresAtMs = auth.received_at_ms + AUTHORIZATION_LIFETIME_MS;
    status.authorization = { source: auth.source, received_at: new Date(auth.received_at_ms).toISOString(), expires_at: new Date(expiresAtMs).toISOString() };
    flow.moveTo('CREATING_TOKEN');

    // Retries stop when the authorization expires: after that Klarna can only say NOT_FOUND.
    const { createCustomerToken } = proxyActivities<Activities>({
      ...klarnaCall,
      scheduleToCloseTimeout: Math.max(1_000, expiresAtMs - Date.now()),
    });
    let created: Awaited<ReturnType<Activities['createCustomerToken']>>;
    try {
      created = await createCustomerToken({
        flow_id: input.flow_id,
        authorization_token: auth.authorization_token,
        idempotency_key: uuid4(),
        purchase_country: input.session.purchase_country,
        purchase_currency: input.session.purchase_currency,
        locale: input.session.locale,
        description: input.token_description,
        billing_address: input.session.billing_address,
      });
    } catch (err) {
      const failure = describeFailure(err);
      // The checkout's word is not proof: an authorization Klarna does not know (a typo, a forged
      // or stale token) is set aside and the flow waits on for a valid one until abandonment.
      // Klarna's own callback (authenticated by the flow's secret) is proof: NOT_FOUND then means
      // the authorization expired.
      if (failure.kind === 'authorization_not_found' && auth.source === 'checkout') {
        status.rejected_authorizations = (status.rejected_authorizations ?? 0) + 1;
        delete status.authorization;
        log.info('checkout authorization unknown to Klarna; waiting for another', { flowId: input.flow_id });
        flow.moveTo('AWAITING_AUTHORIZATION');
        continue;
      }
      const expired = failure.kind === 'authorization_not_found' || failure.kind === 'deadline_exceeded';
      return flow.finish(expired ? 'EXPIRED' : 'FAILED', failure);
    }

    // Klarna made the token: from here the flow only stores it, and storage retries until it works.
    status.customer_token = await vaultCustomerToken({
      flow_id: input.flow_id,
      merchant_reference: input.merchant_reference,
      session_id: status.session_id!,
      purchase_country: input.session.purchase_country,
      purchase_currency: input.session.purchase_currency,
      created,
    });
    // Authorizations still queued will never be used: they count as ignored.
    status.ignored_authorizations += candidates.length;
    return flow.finish('COMPLETED');
  }
}
