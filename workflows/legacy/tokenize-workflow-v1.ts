import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  log,
  proxyActivities,
  setHandler,
  TimeoutFailure,
  upsertSearchAttributes,
  type ActivityOptions,
} from '@temporalio/workflow';
import { isTerminalTokenizeState } from '../../contracts/flow-states.js';
import type { FlowFailure, TokenizeState, TokenizeStatus } from '../../contracts/flow-status.js';
import type { ShopperAuthorization, TokenizeInput } from '../../contracts/tokenize.js';
import type { Activities } from '../../activities/index.js';
import { kindFromFailureType } from '../../klarna/error-kinds.js';
import { awaitCheckoutSessionUpdate, shopperAuthorizedSignal, tokenizeStatusQuery } from '../definitions.js';
import { FlowState, FlowType, MerchantReference } from '../search-attributes.js';

/** Klarna: an authorization token can be used for 60 minutes (seed 001). */
const AUTHORIZATION_LIFETIME_MS = 60 * 60 * 1000;

const klarnaCallOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
};

const { createPaymentSession, recordFlowState } = proxyActivities<Activities>({
  ...klarnaCallOptions,
  // Creating a session has no deadline of its own; give up after a while so the flow ends FAILED.
  scheduleToCloseTimeout: '10m',
});

// FROZEN: the tokenize workflow as it ran before the flow platform (patch `flow-platform-v2`).
// Kept unchanged so executions started before that change replay and finish on this code; new
// executions never come here. Do not edit (see docs/flows.md, "Versioning").

/**
 * Tokenize saga (`intent: tokenize`): session → shopper authorization → customer token → vault.
 * Terminal states: COMPLETED, ABANDONED (nobody authorized in time), EXPIRED (the authorization
 * ran out before the token was created), FAILED (Klarna refused; `failure` says why).
 */
export async function legacyTokenizeV1(input: TokenizeInput): Promise<TokenizeStatus> {
  const iso = (ms: number) => new Date(ms).toISOString();
  const status: TokenizeStatus = {
    flow_id: input.flow_id,
    flow_type: 'tokenize',
    state: 'CREATING_SESSION',
    merchant_reference: input.merchant_reference,
    ignored_authorizations: 0,
    started_at: iso(Date.now()),
    updated_at: iso(Date.now()),
  };
  let authorization: (ShopperAuthorization & { received_at_ms: number }) | undefined;
  /** Set once the flow has decided how it ends, before that is recorded and shown. */
  let outcome: TokenizeState | undefined;

  setHandler(tokenizeStatusQuery, () => status);
  setHandler(awaitCheckoutSessionUpdate, async () => {
    await condition(() => status.session_id !== undefined || isTerminalTokenizeState(status.state));
    return status;
  });
  setHandler(shopperAuthorizedSignal, (signal) => {
    // Checkout and Klarna's callback usually both report the same authorization, and Klarna
    // retries callbacks: the first authorization for this session wins, the rest are counted.
    const wrongSession = signal.session_id !== undefined && status.session_id !== undefined && signal.session_id !== status.session_id;
    // Before the session id is known (a signal racing the session's creation) it is accepted.
    const waiting = !outcome && (status.state === 'CREATING_SESSION' || status.state === 'AWAITING_AUTHORIZATION');
    if (authorization || !waiting || wrongSession) {
      status.ignored_authorizations += 1;
      log.info('authorization ignored', { flowId: input.flow_id, source: signal.source, reason: wrongSession ? 'other session' : (outcome ?? status.state) });
      return;
    }
    authorization = { ...signal, received_at_ms: Date.now() };
  });

  const moveTo = (state: TokenizeState) => {
    status.state = state;
    status.updated_at = iso(Date.now());
    upsertSearchAttributes([{ key: FlowState, value: state }]);
  };
  // The outcome is stored in MongoDB before the query and search attributes show it, so whoever
  // sees a terminal state can rely on the stored copy (the API refuses late authorizations by it).
  const finish = async (state: TokenizeState, failure?: FlowFailure) => {
    outcome = state;
    await recordFlowState({ ...status, state, updated_at: iso(Date.now()), ...(failure ? { failure } : {}) });
    if (failure) status.failure = failure;
    moveTo(state);
    return status;
  };

  upsertSearchAttributes([
    { key: FlowType, value: 'tokenize' },
    { key: MerchantReference, value: input.merchant_reference },
    { key: FlowState, value: status.state },
  ]);

  try {
    const session = await createPaymentSession({ flow_id: input.flow_id, intent: 'tokenize', session: input.session });
    status.session_id = session.session_id;
    status.client_token = session.client_token;
  } catch (err) {
    return finish('FAILED', describeFailure(err));
  }
  moveTo('AWAITING_AUTHORIZATION');
  await recordFlowState(status);

  if (!(await condition(() => authorization !== undefined, input.abandonment_timeout_ms))) {
    return finish('ABANDONED');
  }
  const auth = authorization!;
  const expiresAtMs = auth.received_at_ms + AUTHORIZATION_LIFETIME_MS;
  status.authorization = { source: auth.source, received_at: iso(auth.received_at_ms), expires_at: iso(expiresAtMs) };
  moveTo('CREATING_TOKEN');

  // Retries stop when the authorization expires: after that Klarna can only say NOT_FOUND.
  const { createAndVaultCustomerToken } = proxyActivities<Activities>({
    ...klarnaCallOptions,
    scheduleToCloseTimeout: Math.max(1_000, expiresAtMs - Date.now()),
  });
  try {
    status.customer_token = await createAndVaultCustomerToken({
      flow_id: input.flow_id,
      merchant_reference: input.merchant_reference,
      session_id: status.session_id!,
      authorization_token: auth.authorization_token,
      purchase_country: input.session.purchase_country,
      purchase_currency: input.session.purchase_currency,
      locale: input.session.locale,
      description: input.token_description,
      billing_address: input.session.billing_address,
    });
  } catch (err) {
    const failure = describeFailure(err);
    const expired = failure.kind === 'authorization_not_found' || failure.kind === 'deadline_exceeded';
    return finish(expired ? 'EXPIRED' : 'FAILED', failure);
  }
  return finish('COMPLETED');
}

/**
 * Turns an activity failure into the flow's documented failure (no secrets, Klarna ids kept).
 * Activities retry retryable errors without limit, so a retryable failure reaching the workflow
 * means the schedule-to-close deadline ran out: that is `deadline_exceeded`.
 */
function describeFailure(err: unknown): FlowFailure {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const details = (cause.details?.[0] ?? {}) as { error_code?: string; correlation_id?: string };
    const klarna = { klarna_error_code: details.error_code, klarna_correlation_id: details.correlation_id };
    if (!cause.nonRetryable) return { kind: 'deadline_exceeded', message: `gave up retrying at the deadline; last error: ${cause.message}`, ...klarna };
    return { kind: kindFromFailureType(cause.type) ?? cause.type ?? 'internal', message: cause.message, ...klarna };
  }
  if (cause instanceof TimeoutFailure) return { kind: 'deadline_exceeded', message: `gave up at the deadline: ${cause.message}` };
  return { kind: 'internal', message: err instanceof Error ? err.message : String(err) };
}
