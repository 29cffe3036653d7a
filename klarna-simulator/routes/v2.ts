import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SimulatorDeps } from '../deps.js';
import { KlarnaError } from '../errors.js';
import { newId } from '../ids.js';
import { HOUR } from '../state/clock.js';
import { v2FinalStates, type PaymentRequestRecord, type V2Result, type V2State } from '../state/store.js';
import { authorizeV2Schema, createPaymentRequestSchema, isoDurationMs, parseV2Body, type AuthorizeV2Body } from '../validation.js';
import { emitWebhook, paymentRequestPayload, stateChangeEvent, stateContext } from '../webhooks.js';

// Klarna v2 for acquiring partners (klarna-api-facts §4; seeds 002, 003): Payment Request API
// and Payment Authorize API. Ids are KRN strings. The shopper's side is under /_sim/v2.

/** Facts §4: default expiry 3 h (sources disagree; seed 003's example shows 48 h). */
export const PAYMENT_REQUEST_EXPIRY_MS = 3 * HOUR;
/** Klarna's custom expiry (interaction_expiry) must lie between 15 minutes and 48 hours. */
const MIN_INTERACTION_EXPIRY_MS = 15 * 60_000;
const MAX_INTERACTION_EXPIRY_MS = 48 * HOUR;

type InteractionExpiry = { duration?: string; timestamp?: string } | undefined;

/**
 * expires_at for a new payment request: `interaction_expiry` {duration} or {timestamp} when given
 * (15 min–48 h from now, else 400 naming `parameter`), else the default 3 h.
 */
export function paymentRequestExpiry(deps: SimulatorDeps, expiry: InteractionExpiry, parameter: string): ExpiresAt {
  if (!expiry) return (createdAt) => createdAt + PAYMENT_REQUEST_EXPIRY_MS;
  const now = deps.store.clock.nowMs();
  const durationMs = expiry.duration !== undefined ? (isoDurationMs(expiry.duration) ?? 0) : undefined;
  const at = durationMs !== undefined ? now + durationMs : Date.parse(expiry.timestamp ?? '');
  if (!(at - now >= MIN_INTERACTION_EXPIRY_MS && at - now <= MAX_INTERACTION_EXPIRY_MS)) {
    throw new KlarnaError(400, 'INVALID_CONTENT', ['Request validation failed'], {
      errors: [{ parameter, error_message: 'must be between 15 minutes and 48 hours from now' }],
    });
  }
  return durationMs !== undefined ? (createdAt) => createdAt + durationMs : () => at;
}

/** expires_at from the creation time (a duration counts from exactly created_at). */
export type ExpiresAt = (createdAtMs: number) => number;
/** Seed 003: the klarna_network_session_token is valid for 1 hour. */
export const NETWORK_SESSION_TOKEN_MS = 1 * HOUR;

type Params = FastifyRequest<{ Params: { id: string } }>;

export function paymentRequestView(deps: SimulatorDeps, pr: PaymentRequestRecord, baseUrl: string) {
  expireIfDue(deps, pr);
  return {
    payment_request_id: pr.payment_request_id,
    state: pr.state,
    ...(pr.previous_state ? { previous_state: pr.previous_state } : {}),
    ...(pr.state_reason ? { state_reason: pr.state_reason } : {}),
    ...pr.data,
    state_context:
      pr.state === 'SUBMITTED' || pr.state === 'IN_PROGRESS'
        ? {
            customer_interaction: {
              method: 'HANDOVER',
              payment_request_id: pr.payment_request_id,
              payment_request_url: `${baseUrl}/_sim/v2/pay/${encodeURIComponent(pr.payment_request_id)}`,
            },
          }
        : stateContext(pr),
    expires_at: new Date(pr.expires_at).toISOString(),
    created_at: new Date(pr.created_at).toISOString(),
    updated_at: new Date(pr.updated_at).toISOString(),
    ...(pr.canceled_at !== undefined ? { canceled_at: new Date(pr.canceled_at).toISOString() } : {}),
  };
}

/** Every open payment request past its expires_at becomes EXPIRED now (with its webhook). */
export function expireDuePaymentRequests(deps: SimulatorDeps): void {
  for (const pr of deps.store.paymentRequests.values()) expireIfDue(deps, pr);
}

/** A state change: recorded, previous_state kept, webhook payment.request.state-change.<state> sent. */
export function setPaymentRequestState(deps: SimulatorDeps, pr: PaymentRequestRecord, state: V2State, reason?: string): void {
  pr.previous_state = pr.state;
  pr.state = state;
  if (reason) pr.state_reason = reason;
  pr.updated_at = deps.store.clock.nowMs();
  emitWebhook(deps, stateChangeEvent(state), paymentRequestPayload(pr));
}

/** Expiry is judged lazily against the simulator clock, when the request is next looked at. */
function expireIfDue(deps: SimulatorDeps, pr: PaymentRequestRecord): void {
  if (!v2FinalStates.has(pr.state) && deps.store.clock.nowMs() >= pr.expires_at) setPaymentRequestState(deps, pr, 'EXPIRED');
}

export function findPaymentRequest(deps: SimulatorDeps, id: string): PaymentRequestRecord {
  const pr = deps.store.paymentRequests.get(id);
  if (!pr) throw new KlarnaError(404, 'RESOURCE_NOT_FOUND', ['Payment request not found']);
  expireIfDue(deps, pr);
  return pr;
}

export function createPaymentRequest(
  deps: SimulatorDeps,
  input: Record<string, unknown> & { currency: string; amount?: number; payment_request_reference?: string; request_customer_token?: { scopes: string[]; customer_token_reference?: string } },
  expiresAt: ExpiresAt,
): PaymentRequestRecord {
  const now = deps.store.clock.nowMs();
  const pr: PaymentRequestRecord = {
    payment_request_id: `krn:payment:eu1:request:${newId()}`,
    state: 'SUBMITTED',
    created_at: now,
    updated_at: now,
    expires_at: expiresAt(now),
    currency: input.currency,
    ...(input.amount !== undefined ? { amount: input.amount } : {}),
    ...(input.payment_request_reference ? { payment_request_reference: input.payment_request_reference } : {}),
    ...(input.request_customer_token ? { request_customer_token: input.request_customer_token } : {}),
    data: input,
  };
  deps.store.paymentRequests.set(pr.payment_request_id, pr);
  emitWebhook(deps, stateChangeEvent('SUBMITTED'), paymentRequestPayload(pr));
  return pr;
}

/**
 * The shopper approves in the purchase journey: COMPLETED with a klarna_network_session_token
 * (1 h) and, when asked for, a customer token with the requested scopes.
 */
export function completePaymentRequest(deps: SimulatorDeps, pr: PaymentRequestRecord): void {
  const { store } = deps;
  const token = `krn:network:eu1:test:session-token:${newId()}`;
  pr.klarna_network_session_token = token;
  if (pr.request_customer_token) {
    const customerToken = `krn:customer-token:${newId()}`;
    store.v2Tokens.set(customerToken, {
      customer_token: customerToken,
      scopes: pr.request_customer_token.scopes,
      ...(pr.request_customer_token.customer_token_reference ? { customer_token_reference: pr.request_customer_token.customer_token_reference } : {}),
      status: 'ACTIVE',
      created_at: store.clock.nowMs(),
    });
    pr.customer_token = customerToken;
  }
  store.networkSessions.set(token, {
    token,
    payment_request_id: pr.payment_request_id,
    expires_at: store.clock.nowMs() + NETWORK_SESSION_TOKEN_MS,
    currency: pr.currency,
    ...(pr.amount !== undefined ? { amount: pr.amount } : {}),
    ...(pr.customer_token ? { customer_token: pr.customer_token } : {}),
  });
  setPaymentRequestState(deps, pr, 'COMPLETED');
}

export function registerV2Routes(app: FastifyInstance, deps: SimulatorDeps): void {
  const { store } = deps;
  const expiryParameter = 'customer_interaction_config.interaction_expiry';

  // Klarna documents the Payment Request API both at /v2/payment/requests and, for partner
  // accounts, at /v2/accounts/{partner_account_id}/payment/requests: both work the same.
  for (const base of ['/v2/payment/requests', '/v2/accounts/:accountId/payment/requests']) {
    app.post(base, async (request, reply) => {
      const body = parseV2Body(createPaymentRequestSchema, request.body);
      const pr = createPaymentRequest(deps, body, paymentRequestExpiry(deps, body.customer_interaction_config?.interaction_expiry, expiryParameter));
      return reply.code(201).send(paymentRequestView(deps, pr, deps.publicUrl(request)));
    });

    app.get(`${base}/:id`, async (request: Params) => paymentRequestView(deps, findPaymentRequest(deps, request.params.id), deps.publicUrl(request)));

    app.put(`${base}/:id`, async (request: Params) => {
      const body = parseV2Body(createPaymentRequestSchema, request.body);
      const pr = findPaymentRequest(deps, request.params.id);
      if (pr.state !== 'SUBMITTED') throw new KlarnaError(409, 'INVALID_STATE', [`Payment request is ${pr.state}; only SUBMITTED can be updated`]);
      const expiry = body.customer_interaction_config?.interaction_expiry;
      if (expiry) pr.expires_at = paymentRequestExpiry(deps, expiry, expiryParameter)(store.clock.nowMs());
      pr.data = body;
      pr.currency = body.currency;
      if (body.amount !== undefined) pr.amount = body.amount;
      else delete pr.amount;
      if (body.request_customer_token) pr.request_customer_token = body.request_customer_token;
      if (body.payment_request_reference) pr.payment_request_reference = body.payment_request_reference;
      pr.updated_at = store.clock.nowMs();
      return paymentRequestView(deps, pr, deps.publicUrl(request));
    });

    // Cancel: SUBMITTED / IN_PROGRESS, and (Klarna's acquiring-partner docs) COMPLETED until its
    // network session token has finalized an authorization; the token then stops working.
    app.delete(`${base}/:id`, async (request: Params) => {
      const pr = findPaymentRequest(deps, request.params.id);
      const network = pr.klarna_network_session_token ? store.networkSessions.get(pr.klarna_network_session_token) : undefined;
      const cancelable = !v2FinalStates.has(pr.state) || (pr.state === 'COMPLETED' && network !== undefined && !network.finalized);
      if (!cancelable) throw new KlarnaError(409, 'INVALID_STATE', [`Payment request is ${pr.state}${network?.finalized ? ' and finalized' : ''}`]);
      if (network) store.networkSessions.delete(network.token);
      pr.canceled_at = store.clock.nowMs();
      setPaymentRequestState(deps, pr, 'CANCELED', 'PARTNER_CANCELED');
      return paymentRequestView(deps, pr, deps.publicUrl(request));
    });
  }

  app.post('/v2/accounts/:accountId/payment/authorize', async (request: FastifyRequest<{ Params: { accountId: string } }>) => {
    const body = parseV2Body(authorizeV2Schema, request.body);
    const sessionToken = header(request, 'klarna-network-session-token');
    const customerToken = header(request, 'klarna-customer-token');
    const base = deps.publicUrl(request);
    // Judged before anything is created, so a bad expiry leaves no transaction or token behind.
    const stepUpExpiresAt = paymentRequestExpiry(
      deps,
      body.step_up_config?.customer_interaction_config?.interaction_expiry,
      'step_up_config.customer_interaction_config.interaction_expiry',
    );

    if (sessionToken) {
      // Finalizing after step-up: what the shopper approved. Idempotent per session token.
      const session = store.networkSessions.get(sessionToken);
      if (!session || store.clock.nowMs() >= session.expires_at) {
        throw new KlarnaError(400, 'INVALID_NETWORK_SESSION_TOKEN', ['Klarna-Network-Session-Token is unknown or expired'], {
          errors: [{ parameter: 'Klarna-Network-Session-Token', error_message: 'unknown or expired (valid 1 hour)' }],
        });
      }
      if (session.finalized) return session.finalized;
      const scripted = store.nextAuthorizeResults.shift();
      const wanted = body.request_payment_transaction;
      const amountChanged = wanted !== undefined && (session.amount === undefined || wanted.amount !== session.amount || body.currency !== session.currency);
      const result = decide(body, {
        // Seed 003: a purchase differing from what was approved is asked to be approved again.
        payment: scripted?.payment ?? (amountChanged ? 'STEP_UP_REQUIRED' : 'APPROVED'),
        token: scripted?.token ?? (session.customer_token ? 'APPROVED' : 'STEP_UP_REQUIRED'),
        existingToken: session.customer_token,
        base,
        stepUpExpiresAt,
      });
      session.finalized = result;
      return result;
    }

    if (customerToken) {
      // A token charge is this same call with Klarna-Customer-Token (facts §4).
      const token = store.v2Tokens.get(customerToken);
      if (!token) throw new KlarnaError(404, 'RESOURCE_NOT_FOUND', ['Customer token not found']);
      const scripted = store.nextAuthorizeResults.shift();
      return decide(body, {
        payment: scripted?.payment ?? (token.status === 'ACTIVE' ? 'APPROVED' : 'DECLINED'),
        token: scripted?.token ?? (token.status === 'ACTIVE' ? 'APPROVED' : 'DECLINED'),
        existingToken: customerToken,
        base,
        stepUpExpiresAt,
      });
    }

    // A first authorization: the shopper must go through Klarna's purchase journey, unless a
    // scenario says otherwise. Without step_up_config a step-up cannot be triggered: DECLINED.
    const scripted = store.nextAuthorizeResults.shift();
    const fallback: V2Result = body.step_up_config ? 'STEP_UP_REQUIRED' : 'DECLINED';
    return decide(body, { payment: scripted?.payment ?? fallback, token: scripted?.token ?? fallback, base, stepUpExpiresAt });
  });

  /**
   * Builds the authorize answer for the parts asked for. APPROVED parts get a transaction / a
   * customer token; any STEP_UP_REQUIRED part gets one payment request for the step-up (seed 002,
   * including the mismatched combinations).
   */
  function decide(
    body: AuthorizeV2Body,
    o: { payment: V2Result; token: V2Result; existingToken?: string; base: string; stepUpExpiresAt: ExpiresAt },
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    let stepUp = false;
    if (body.request_payment_transaction) {
      const r = o.payment;
      if (r === 'APPROVED') {
        const transaction = {
          payment_transaction_id: `krn:payment:eu1:transaction:${newId()}`,
          ...(body.request_payment_transaction.payment_transaction_reference
            ? { payment_transaction_reference: body.request_payment_transaction.payment_transaction_reference }
            : {}),
          amount: body.request_payment_transaction.amount,
          currency: body.currency,
        };
        store.v2Transactions.set(transaction.payment_transaction_id, transaction);
        out.payment_transaction_response = { result: r, payment_transaction: transaction };
      } else out.payment_transaction_response = { result: r };
      stepUp ||= r === 'STEP_UP_REQUIRED';
    }
    if (body.request_customer_token) {
      const r = o.token;
      if (r === 'APPROVED') {
        let token = o.existingToken;
        if (!token) {
          token = `krn:customer-token:${newId()}`;
          store.v2Tokens.set(token, {
            customer_token: token,
            scopes: body.request_customer_token.scopes,
            ...(body.request_customer_token.customer_token_reference ? { customer_token_reference: body.request_customer_token.customer_token_reference } : {}),
            status: 'ACTIVE',
            created_at: store.clock.nowMs(),
          });
        }
        out.customer_token_response = { result: r, customer_token: token };
      } else out.customer_token_response = { result: r };
      stepUp ||= r === 'STEP_UP_REQUIRED';
    }
    if (stepUp) {
      const cic = body.step_up_config?.customer_interaction_config;
      const pr = createPaymentRequest(deps, {
        currency: body.currency,
        ...(body.request_payment_transaction && (out.payment_transaction_response as { result: string }).result === 'STEP_UP_REQUIRED'
          ? { amount: body.request_payment_transaction.amount }
          : {}),
        ...(body.step_up_config?.payment_request_reference ? { payment_request_reference: body.step_up_config.payment_request_reference } : {}),
        ...(body.request_customer_token && (out.customer_token_response as { result: string }).result === 'STEP_UP_REQUIRED'
          ? { request_customer_token: body.request_customer_token }
          : {}),
        ...(cic ? { customer_interaction_config: cic } : {}),
        ...(body.supplementary_purchase_data ? { supplementary_purchase_data: body.supplementary_purchase_data } : {}),
      }, o.stepUpExpiresAt);
      out.payment_request = paymentRequestView(deps, pr, o.base);
    }
    return out;
  }
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}
