import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SimulatorDeps } from '../deps.js';
import { KlarnaError, klarnaErrors } from '../errors.js';
import { makeClientToken, newId } from '../ids.js';
import { HOUR } from '../state/clock.js';
import { nonTokenizableMethods, type AuthorizationRecord, type CustomerTokenRecord, type SessionRecord } from '../state/store.js';
import {
  assertCart,
  cartErrors,
  createCustomerTokenSchema,
  marketErrors,
  createOrderSchema,
  createSessionSchema,
  parseKlarnaBody,
  updateSessionSchema,
  type CreateOrderBody,
  type CreateSessionBody,
} from '../validation.js';

// Klarna Payments v1 (klarna-api-facts §1, seeds 000/001): sessions, customer tokens and orders
// from an authorization, releasing an authorization.

export const SESSION_LIFETIME_MS = 48 * HOUR;
export const AUTHORIZATION_LIFETIME_MS = 1 * HOUR;

const KLARNA_BADGE = 'https://x.klarnacdn.net/payment-method/assets/badges/generic/klarna.svg';
export const paymentMethodCategories = [
  { identifier: 'klarna', name: 'Pay with Klarna', asset_urls: { descriptive: KLARNA_BADGE, standard: KLARNA_BADGE } },
];

type Params<K extends string> = FastifyRequest<{ Params: Record<K, string> }>;

/** A session that exists and has not expired (48 h), else Klarna's 404. */
export function liveSession(deps: SimulatorDeps, sessionId: string): SessionRecord {
  const session = deps.store.sessions.get(sessionId);
  if (!session || deps.store.clock.nowMs() >= session.expires_at) throw klarnaErrors.sessionNotFound();
  return session;
}

/**
 * An authorization that can still be used: known, younger than 60 minutes, not released, and
 * its session has not become an order through another authorization. Anything else is Klarna's
 * NOT_FOUND "Invalid authorization token" (seed 001).
 */
export function liveAuthorization(deps: SimulatorDeps, token: string): AuthorizationRecord {
  const auth = deps.store.authorizations.get(token);
  if (!auth || auth.released_at !== undefined || deps.store.clock.nowMs() >= auth.expires_at) throw klarnaErrors.invalidAuthorizationToken();
  const session = deps.store.sessions.get(auth.session_id);
  if (session?.order_id && session.order_id !== auth.order_id) throw klarnaErrors.invalidAuthorizationToken();
  return auth;
}

export function sessionView(session: SessionRecord) {
  const { step_up_id: _omitStepUp, ...data } = session.data;
  return {
    ...data,
    client_token: session.client_token,
    payment_method_categories: paymentMethodCategories,
    status: session.status,
    intent: session.data.intent,
    expires_at: new Date(session.expires_at).toISOString(),
    ...(session.authorization_tokens.length ? { authorization_token: session.authorization_tokens.at(-1) } : {}),
  };
}

/**
 * Fields of an order that differ from what the shopper authorized (seed 001: "Not matching
 * fields: [billing_address.postal_code]", "[Incorrect number of items in the cart. Expected: 2, Actual: 3]").
 */
export function notMatchingFields(authorized: CreateSessionBody, order: CreateOrderBody): string[] {
  const out: string[] = [];
  for (const f of ['purchase_country', 'purchase_currency', 'order_amount'] as const) {
    if (authorized[f] !== order[f]) out.push(f);
  }
  if (authorized.order_tax_amount !== undefined && order.order_tax_amount !== undefined && authorized.order_tax_amount !== order.order_tax_amount) {
    out.push('order_tax_amount');
  }
  if (authorized.order_lines.length !== order.order_lines.length) {
    out.push(`Incorrect number of items in the cart. Expected: ${authorized.order_lines.length}, Actual: ${order.order_lines.length}`);
  } else {
    authorized.order_lines.forEach((line, i) => {
      const other = order.order_lines[i]!;
      // Required line fields always count; optional ones only when both sides send them.
      for (const f of ['reference', 'name', 'quantity', 'unit_price', 'total_amount', 'total_discount_amount', 'total_tax_amount'] as const) {
        if (line[f] !== undefined && other[f] !== undefined && line[f] !== other[f]) out.push(`order_lines[${i}].${f}`);
      }
    });
  }
  for (const a of ['billing_address', 'shipping_address'] as const) {
    const before = authorized[a] as Record<string, unknown> | undefined;
    const after = order[a] as Record<string, unknown> | undefined;
    if (!before || !after) continue;
    for (const [k, v] of Object.entries(before)) {
      if (after[k] !== undefined && after[k] !== v) out.push(`${a}.${k}`);
    }
  }
  return [...new Set(out)];
}

/**
 * Where Klarna's redirect_url finally sends the shopper: merchant_urls.confirmation with
 * {{session_id}}, {{authorization_token}} and {{order_id}} filled in (assumption: the HPP
 * placeholder syntax; Klarna's KP docs do not list confirmation placeholders).
 */
export function fillConfirmationUrl(template: string, auth: AuthorizationRecord, orderId: string | undefined): string {
  return template
    .replaceAll('{{session_id}}', encodeURIComponent(auth.session_id))
    .replaceAll('{{authorization_token}}', encodeURIComponent(auth.authorization_token))
    .replaceAll('{{order_id}}', encodeURIComponent(orderId ?? ''));
}

/** Klarna's authorized_payment_method.type, from the simulator's payment method. */
export function authorizedPaymentMethodType(type: CustomerTokenRecord['payment_method_type']): string {
  const map = { CARD: 'card', DIRECT_DEBIT: 'direct_debit', INVOICE: 'invoice', ACCOUNT: 'base_account', BANK_TRANSFER: 'direct_bank_transfer' } as const;
  return map[type];
}

export function registerPaymentsV1Routes(app: FastifyInstance, deps: SimulatorDeps): void {
  const { store } = deps;

  app.post('/payments/v1/sessions', async (request) => {
    const body = parseKlarnaBody(createSessionSchema, request.body);
    assertCart(body);
    if (body.step_up_id !== undefined) {
      // Seed 000: a recovery session names the failed charge's step_up_id and its customer token,
      // with the intent of the session the token came from.
      const stepUp = store.stepUps.get(body.step_up_id);
      if (!stepUp || stepUp.completed_at !== undefined) throw new KlarnaError(400, 'BAD_VALUE', ['Bad value: step_up_id']);
      if (body.customer?.customer_token !== stepUp.token_id) throw new KlarnaError(400, 'BAD_VALUE', ['Bad value: customer.customer_token']);
      const token = store.tokens.get(stepUp.token_id);
      if (token && token.intent !== body.intent) throw new KlarnaError(400, 'BAD_VALUE', ['Bad value: intent']);
    }
    const now = store.clock.nowMs();
    const sessionId = newId();
    const session: SessionRecord = {
      session_id: sessionId,
      client_token: makeClientToken(sessionId, now),
      created_at: now,
      expires_at: now + SESSION_LIFETIME_MS,
      data: body,
      status: 'incomplete',
      authorization_tokens: [],
    };
    store.sessions.set(sessionId, session);
    return { session_id: sessionId, client_token: session.client_token, payment_method_categories: paymentMethodCategories };
  });

  app.get('/payments/v1/sessions/:sessionId', async (request: Params<'sessionId'>) => {
    return sessionView(liveSession(deps, request.params.sessionId));
  });

  app.post('/payments/v1/sessions/:sessionId', async (request: Params<'sessionId'>, reply) => {
    const update = parseKlarnaBody(updateSessionSchema, request.body);
    const session = liveSession(deps, request.params.sessionId);
    if (session.status === 'complete') throw klarnaErrors.sessionCompleted();
    const merged: CreateSessionBody = { ...session.data, ...update };
    // The merged session must still be a valid session: market, currency, cart arithmetic.
    const errors = [...marketErrors(merged.purchase_country, merged.purchase_currency).map((f) => `Bad value: ${f}`), ...cartErrors(merged)];
    if (errors.length) throw new KlarnaError(400, 'BAD_VALUE', errors);
    // Authorizations keep their snapshot: an order after this update with the new cart is a 409.
    session.data = merged;
    return reply.code(204).send();
  });

  app.post('/payments/v1/authorizations/:authorizationToken/customer-token', async (request: Params<'authorizationToken'>) => {
    const body = parseKlarnaBody(createCustomerTokenSchema, request.body);
    const auth = liveAuthorization(deps, request.params.authorizationToken);
    if (auth.intent === 'buy') throw new KlarnaError(403, 'INVALID_OPERATION', ['Not allowed to create customer tokens for intent buy.']);
    if (auth.customer_token_id) throw klarnaErrors.authorizationConsumed();
    const country = auth.snapshot.purchase_country;
    if (body.purchase_country !== country || (body.billing_address?.country !== undefined && body.billing_address.country !== country)) {
      throw new KlarnaError(400, 'BAD_VALUE', ['Bad value: purchase_country']);
    }
    // Assumption (seed 001 names only the country case): the token is for the session's currency.
    if (body.purchase_currency !== auth.snapshot.purchase_currency) throw new KlarnaError(400, 'BAD_VALUE', ['Bad value: purchase_currency']);
    if (nonTokenizableMethods.has(auth.payment_method_type)) {
      throw new KlarnaError(400, 'BAD_REQUEST', [`${auth.payment_method_type} is not valid for creating customer tokens in ${country}`]);
    }
    const tokenId = newId();
    const billing = body.billing_address ?? auth.snapshot.billing_address;
    const customer = body.customer ?? auth.snapshot.customer;
    const token: CustomerTokenRecord = {
      token_id: tokenId,
      merchant: deps.merchant,
      status: 'ACTIVE',
      created_at: store.clock.nowMs(),
      intent: auth.intent,
      session_id: auth.session_id,
      authorization_token: auth.authorization_token,
      purchase_country: body.purchase_country,
      purchase_currency: body.purchase_currency,
      locale: body.locale,
      description: body.description,
      billing_address: billing,
      customer,
      payment_method_reference: newId(),
      payment_method_type: auth.payment_method_type,
      payment_method_failing: false,
      next_order_errors: [],
      order_ids: [],
    };
    store.tokens.set(tokenId, token);
    auth.customer_token_id = tokenId;
    const session = store.sessions.get(auth.session_id);
    // Assumption: a tokenize session (no order ever) is complete once its token exists.
    if (session && auth.intent === 'tokenize') session.status = 'complete';
    const confirmation = auth.snapshot.merchant_urls?.confirmation;
    if (confirmation) store.redirects.set(tokenId, fillConfirmationUrl(confirmation, auth, undefined));
    return {
      token_id: tokenId,
      redirect_url: `${deps.publicUrl(request)}/_sim/redirect/${tokenId}`,
      billing_address: billing ?? {},
      customer: customer ?? {},
      payment_method_reference: token.payment_method_reference,
    };
  });

  app.post('/payments/v1/authorizations/:authorizationToken/order', async (request: Params<'authorizationToken'>) => {
    const body = parseKlarnaBody(createOrderSchema, request.body);
    assertCart(body);
    const auth = liveAuthorization(deps, request.params.authorizationToken);
    return placeAuthorizationOrder(deps, auth, body, deps.publicUrl(request));
  });

  app.delete('/payments/v1/authorizations/:authorizationToken', async (request: Params<'authorizationToken'>, reply) => {
    const auth = liveAuthorization(deps, request.params.authorizationToken);
    if (auth.order_id) throw klarnaErrors.authorizationConsumed();
    auth.released_at = store.clock.nowMs();
    return reply.code(204).send();
  });
}

/**
 * An order from an authorization (also used by the Hosted Payment Page in PLACE_ORDER mode).
 * Throws Klarna's errors for a consumed token, a tokenize intent, a changed cart or a rejection.
 */
export function placeAuthorizationOrder(deps: SimulatorDeps, auth: AuthorizationRecord, body: CreateOrderBody, baseUrl: string): Record<string, unknown> {
  const { store } = deps;
  if (auth.order_id) throw klarnaErrors.authorizationConsumed();
  // Assumption: a tokenize authorization is for the token only (seed 001: "send only the second
  // request"), except in a step-up recovery session, whose order is the failed charge (seed 000).
  if (auth.intent === 'tokenize' && !auth.step_up_id) throw new KlarnaError(403, 'INVALID_OPERATION', ['Not allowed to create orders for intent tokenize.']);
  const mismatch = notMatchingFields(auth.snapshot, body);
  if (mismatch.length) throw new KlarnaError(409, 'BAD_VALUE', [`Not matching fields: [${mismatch.join(', ')}]`]);
  if (auth.fraud_status === 'REJECTED') throw new KlarnaError(403, 'REJECTED', ['Rejected']);

  const orderId = newId();
  const session = store.sessions.get(auth.session_id);
  const confirmation = auth.snapshot.merchant_urls?.confirmation;
  const response: Record<string, unknown> = {
    order_id: orderId,
    // Klarna: redirect_url only when a confirmation URL was given at session creation.
    ...(confirmation ? { redirect_url: `${baseUrl}/_sim/redirect/${orderId}` } : {}),
    fraud_status: auth.fraud_status,
    // Klarna's OpenAPI has an object; the seeds' samples show a bare string ("invoice"). Object by
    // default; the authorize control can ask for the string so clients prove they accept both.
    authorized_payment_method:
      auth.authorized_payment_method_format === 'string'
        ? authorizedPaymentMethodType(auth.payment_method_type)
        : {
            type: authorizedPaymentMethodType(auth.payment_method_type),
            number_of_days: auth.payment_method_type === 'INVOICE' ? 30 : 0,
            number_of_installments: 1,
          },
  };
  auth.order_id = orderId;
  if (confirmation) store.redirects.set(orderId, fillConfirmationUrl(confirmation, auth, orderId));
  if (session) {
    session.order_id = orderId;
    session.status = 'complete';
  }
  store.orders.set(orderId, {
    order_id: orderId,
    source: 'authorization',
    authorization_token: auth.authorization_token,
    session_id: auth.session_id,
    created_at: store.clock.nowMs(),
    fraud_status: auth.fraud_status,
    order_amount: body.order_amount,
    purchase_currency: body.purchase_currency,
    body,
    response,
  });
  if (auth.step_up_id) completeStepUp(deps, auth);
  return response;
}

/**
 * Seed 000: a successful order from a step-up session re-links the customer token to the payment
 * method the shopper just chose, so later token charges work again.
 */
function completeStepUp(deps: SimulatorDeps, auth: AuthorizationRecord): void {
  const stepUp = auth.step_up_id ? deps.store.stepUps.get(auth.step_up_id) : undefined;
  if (!stepUp || stepUp.completed_at !== undefined) return;
  stepUp.completed_at = deps.store.clock.nowMs();
  const token = deps.store.tokens.get(stepUp.token_id);
  if (!token) return;
  token.payment_method_failing = false;
  token.payment_method_type = auth.payment_method_type;
  token.payment_method_reference = newId();
}
