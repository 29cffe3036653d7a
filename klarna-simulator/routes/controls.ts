import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { SimulatorDeps } from '../deps.js';
import { KlarnaError, tokenOrderErrorCodes } from '../errors.js';
import { newId } from '../ids.js';
import { fieldPath } from '../validation.js';
import { authorizeSession } from '../shopper.js';
import { hppFinalStatuses, paymentMethodTypes, type CustomerTokenRecord, type DeliveryScenario, type FaultRule } from '../state/store.js';
import { liveSession, sessionView } from './payments-v1.js';
import { tokenView } from './customer-token-v1.js';
import { finishHpp, hppView, liveHpp, openHpp } from './hpp-v1.js';
import { klarnaPaymentsScript } from './klarna-payments-sdk.js';
import { hppPage, parentOriginParam, purchasePage, redirectPage, resultPage } from './purchase-page.js';
import { expireDuePaymentRequests } from './v2.js';

// Test controls under /_sim (a prefix Klarna never uses; no Basic auth). They stand in for the
// shopper (authorize / decline), for Klarna's own decisions (suspend a token, fail a charge),
// for the network (faults) and for time (clock). See docs/klarna-simulator.md.

/** The shopper's Klarna login: playground address and OTP (klarna-api-facts §6). */
const shopperLogin = {
  email: z.string().min(3).max(254).optional(),
  otp: z.string().max(12).optional(),
};

const authorizeSchema = z.object({
  outcome: z.enum(['approve', 'decline']).optional(),
  ...shopperLogin,
  /** Scenario: the order answer's authorized_payment_method as the seeds' bare string. */
  authorized_payment_method_format: z.enum(['object', 'string']).optional(),
  /** What the shopper "paid with"; BANK_TRANSFER cannot be tokenized (seed 001 BAD_REQUEST row). */
  payment_method_type: z.enum(paymentMethodTypes).default('CARD'),
  /** ACCEPTED (default), PENDING, or REJECTED (the order is then refused with 403 REJECTED). */
  fraud_status: z.enum(['ACCEPTED', 'PENDING', 'REJECTED']).optional(),
  /** Scenarios for the authorization callback: 'skip' it (Klarna's is best effort), or delay it. */
  callback: z.enum(['send', 'skip']).default('send'),
  callback_delay_ms: z.number().int().min(0).max(600_000).optional(),
});

const hppCompleteSchema = z.object({
  /** Absent: approve, unless the shopper's playground address says otherwise (then decline). */
  outcome: z.enum(['approve', 'decline', 'cancel', 'back', 'error']).optional(),
  ...shopperLogin,
  payment_method_type: z.enum(paymentMethodTypes).default('CARD'),
  fraud_status: z.enum(['ACCEPTED', 'PENDING', 'REJECTED']).optional(),
});

const clockAdvanceSchema = z.object({ seconds: z.number().finite().min(0) });

const createTokenSchema = z.object({
  purchase_country: z.string().regex(/^[A-Z]{2}$/).default('SE'),
  purchase_currency: z.string().regex(/^[A-Z]{3}$/).default('SEK'),
  locale: z.string().default('en-US'),
  intent: z.enum(['tokenize', 'buy_and_tokenize']).default('tokenize'),
  status: z.enum(['ACTIVE', 'SUSPENDED', 'CANCELLED']).default('ACTIVE'),
  payment_method_type: z.enum(paymentMethodTypes).default('CARD'),
  /** Another merchant's token: this merchant's calls get TOKEN_FORBIDDEN. */
  merchant: z.string().min(1).optional(),
  description: z.string().default('Simulator token'),
  billing_address: z.record(z.string(), z.unknown()).optional(),
});

const tokenStatusSchema = z.object({ status: z.enum(['ACTIVE', 'SUSPENDED', 'CANCELLED']) });
const nextOrderErrorSchema = z.object({
  error_code: z.enum(tokenOrderErrorCodes),
  /** How many consecutive token orders fail this way (default 1). */
  count: z.number().int().min(1).max(1000).default(1),
});
const paymentMethodSchema = z.object({
  /** true: every charge fails with UNAVAILABLE_PAYMENT_METHOD until a step-up recovery order. */
  failing: z.boolean().optional(),
  type: z.enum(paymentMethodTypes).optional(),
});

const faultSchema = z
  .object({
    /** Glob on the path or the route pattern, e.g. /customer-token/v1/tokens/*\/order or /payments/**. */
    path: z.string().min(1).optional(),
    route: z.string().min(1).optional(),
    method: z.enum(['GET', 'POST', 'PATCH', 'DELETE', 'PUT']).optional(),
    status: z.number().int().min(400).max(599).optional(),
    error_code: z.string().min(1).optional(),
    latencyMs: z.number().int().min(0).max(120_000).default(0),
    drop: z.boolean().default(false),
    /** before (default): not processed. after: processed, then the answer is replaced or lost. */
    phase: z.enum(['before', 'after']).default('before'),
    /** How many matching requests it hits; absent = until removed. */
    count: z.number().int().min(1).optional(),
    /** Hit this fraction of matching requests, evenly spread (0.5 = every second one). */
    rate: z.number().gt(0).max(1).optional(),
  })
  .refine((f) => f.path ?? f.route, { message: 'path or route is required', path: ['path'] })
  .refine((f) => f.status !== undefined || f.drop || f.latencyMs > 0, { message: 'status, drop or latencyMs is required', path: ['status'] });

const callbackKinds = ['authorization', 'hpp_status_update', 'webhook'] as const;
const deliveryScenarioSchema = z.object({
  kind: z.enum(callbackKinds).optional(),
  kinds: z.array(z.enum(callbackKinds)).optional(),
  /** Keep the next calls back until POST /_sim/callbacks/release. */
  hold: z.boolean().default(false),
  /** Send each call this many extra times (same body, same event_id). */
  duplicates: z.number().int().min(0).max(10).default(0),
  /** Real-time wait before each call's first attempt. */
  delay_ms: z.number().int().min(0).max(60_000).default(0),
  /** How many next calls it applies to; absent = until DELETE /_sim/callbacks/scenario. */
  count: z.number().int().min(1).optional(),
});
const releaseSchema = z.object({
  /** sent = oldest first (default), reverse = newest first. */
  order: z.enum(['sent', 'reverse']).default('sent'),
  /** Exactly these held deliveries, in this order. */
  ids: z.array(z.string().min(1)).optional(),
});

/** A browser form post (the shopper pages), as opposed to a test's JSON call. */
export function isFormPost(request: FastifyRequest): boolean {
  return (request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
}

/** What a browser gets after a shopper action: Klarna's redirect back, or a page with the result. */
export function browserAnswer(reply: FastifyReply, redirectTo: string | undefined, title: string, answer: unknown): FastifyReply {
  if (redirectTo) return reply.redirect(redirectTo, 303);
  return reply.type('text/html; charset=utf-8').send(resultPage(title, answer));
}

/** Control bodies may be absent (treated as {}); errors use Klarna's shape so one client parses both. */
function parseControl<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  throw new KlarnaError(
    400,
    'BAD_VALUE',
    parsed.error.issues.map((i) => `Bad value: ${fieldPath(i.path)} (${i.message})`),
  );
}

type P<K extends string> = FastifyRequest<{ Params: Record<K, string>; Querystring: Record<string, string | undefined> }>;

export function registerControlRoutes(app: FastifyInstance, deps: SimulatorDeps): void {
  const { store } = deps;

  function simToken(tokenId: string): CustomerTokenRecord {
    const token = store.tokens.get(tokenId);
    if (!token) throw new KlarnaError(404, 'NOT_FOUND', ['Customer token not found']);
    return token;
  }

  // --- the shopper ---------------------------------------------------------------------------

  app.post('/_sim/sessions/:sessionId/authorize', async (request: P<'sessionId'>) => {
    const input = parseControl(authorizeSchema, request.body);
    const session = liveSession(deps, request.params.sessionId);
    if (session.status === 'complete') throw new KlarnaError(409, 'SESSION_COMPLETED', ['Session is completed']);
    const result = authorizeSession(deps, session, input);
    if (!result.approved) return { approved: false, session_id: session.session_id, reason: result.reason };
    return {
      approved: true,
      authorization_token: result.authorization.authorization_token,
      session_id: session.session_id,
      expires_at: new Date(result.authorization.expires_at).toISOString(),
      ...(result.authorization.step_up_method ? { step_up_method: result.authorization.step_up_method } : {}),
      ...(result.callback ? { callback_id: result.callback.id } : {}),
    };
  });

  // ?view=widget|sdk&parent=<origin>: the page inside the JS SDK stand-in's iframes (below).
  app.get('/_sim/purchase/:sessionId', async (request: P<'sessionId'>, reply) => {
    const session = store.sessions.get(request.params.sessionId);
    const { view, parent } = request.query;
    const mode = view === 'widget' || view === 'sdk' ? view : 'page';
    const html = purchasePage(session, request.params.sessionId, store.clock.nowMs(), { mode, parentOrigin: parentOriginParam(parent) });
    return reply.type('text/html; charset=utf-8').code(session ? 200 : 404).send(html);
  });

  // Stand-in for Klarna's JS SDK (x.klarnacdn.net/kp/lib/v1/api.js): Klarna.Payments.init / load /
  // authorize on the merchant's page, with this simulator's purchase page in their iframes.
  app.get('/_sim/klarna-payments.js', async (_request, reply) =>
    reply.type('application/javascript; charset=utf-8').header('cache-control', 'no-cache').send(klarnaPaymentsScript),
  );

  // redirect_url of an order or customer token: on to the merchant's confirmation URL when the
  // session had one, else a placeholder page.
  app.get('/_sim/redirect/:id', async (request: P<'id'>, reply) => {
    const target = store.redirects.get(request.params.id);
    if (target) return reply.redirect(target, 303);
    return reply.type('text/html; charset=utf-8').send(redirectPage(request.params.id));
  });

  // Hosted Payment Page: redirect_url lands here. Opening it is the shopper arriving (IN_PROGRESS).
  app.get('/_sim/hpp/:id', async (request: P<'id'>, reply) => {
    const hpp = store.hppSessions.get(request.params.id);
    const live = hpp && store.clock.nowMs() < hpp.expires_at;
    // Only a real page view (not HEAD, e.g. a link checker) is the shopper arriving.
    if (hpp && live && request.method === 'GET') openHpp(deps, hpp);
    const kp = hpp ? store.sessions.get(hpp.kp_session_id) : undefined;
    return reply
      .type('text/html; charset=utf-8')
      .code(live ? 200 : 404)
      .send(hppPage(live ? hpp : undefined, kp, request.params.id));
  });

  app.post('/_sim/hpp/:id/open', async (request: P<'id'>) => {
    const hpp = liveHpp(deps, request.params.id);
    if (hppFinalStatuses.has(hpp.status)) throw new KlarnaError(409, 'INVALID_OPERATION', [`HPP session is ${hpp.status}`]);
    openHpp(deps, hpp);
    return hppView(hpp);
  });

  // JSON for tests; a form post from the hosted page answers like Klarna's page: a 303 to the
  // merchant URL for the outcome (placeholders filled), or a result page when none was given.
  app.post('/_sim/hpp/:id/complete', async (request: P<'id'>, reply) => {
    const { outcome, ...input } = parseControl(hppCompleteSchema, request.body);
    const hpp = liveHpp(deps, request.params.id);
    const result = finishHpp(deps, hpp, outcome, input, deps.publicUrl(request));
    const answer = { ...hppView(hpp), ...result };
    if (isFormPost(request)) return browserAnswer(reply, answer.redirect_to, `Hosted Payment Page: ${answer.status}`, answer);
    return answer;
  });

  // --- inspection ----------------------------------------------------------------------------

  app.get('/_sim/requests', async (request: P<never>) => {
    const { method, path_prefix } = request.query;
    return store.requests.filter(
      (r) => (!method || r.method === method.toUpperCase()) && (!path_prefix || r.path.startsWith(path_prefix)),
    );
  });

  app.get('/_sim/callbacks', async () => store.callbacks);

  app.post('/_sim/callbacks/scenario', async (request) => {
    const input = parseControl(deliveryScenarioSchema, request.body);
    const rule: DeliveryScenario = {
      id: newId(),
      kinds: input.kinds ?? (input.kind ? [input.kind] : []),
      hold: input.hold,
      duplicates: input.duplicates,
      delay_ms: input.delay_ms,
      remaining: input.count ?? null,
      matched: 0,
    };
    store.deliveryScenarios.push(rule);
    return rule;
  });

  app.get('/_sim/callbacks/scenario', async () => store.deliveryScenarios);

  app.delete('/_sim/callbacks/scenario', async (_request, reply) => {
    store.deliveryScenarios = [];
    return reply.code(204).send();
  });

  // Held deliveries go out one after the other, in the order asked for: out-of-order delivery.
  app.post('/_sim/callbacks/release', async (request) => {
    const input = parseControl(releaseSchema, request.body);
    const released = await deps.callbacks.release({ ...(input.ids ? { ids: input.ids } : {}), reverse: input.order === 'reverse' });
    return { released: released.map((d) => ({ id: d.id, kind: d.kind, state: d.state, attempts: d.attempts })) };
  });

  app.post('/_sim/callbacks/:id/redeliver', async (request: P<'id'>) => {
    const delivery = store.callbacks.find((d) => d.id === request.params.id);
    if (!delivery) throw new KlarnaError(404, 'NOT_FOUND', ['Callback delivery not found']);
    return deps.callbacks.redeliver(delivery);
  });

  app.get('/_sim/sessions/:sessionId', async (request: P<'sessionId'>) => {
    const session = store.sessions.get(request.params.sessionId);
    if (!session) throw new KlarnaError(404, 'NOT_FOUND', ['Session not found']);
    return {
      ...sessionView(session),
      session_id: session.session_id,
      step_up_id: session.data.step_up_id,
      order_id: session.order_id,
      expired: store.clock.nowMs() >= session.expires_at,
      authorizations: session.authorization_tokens.map((t) => {
        const a = store.authorizations.get(t)!;
        return {
          authorization_token: t,
          authorized_at: new Date(a.authorized_at).toISOString(),
          expires_at: new Date(a.expires_at).toISOString(),
          payment_method_type: a.payment_method_type,
          fraud_status: a.fraud_status,
          order_id: a.order_id,
          customer_token_id: a.customer_token_id,
          released: a.released_at !== undefined,
        };
      }),
    };
  });

  app.get('/_sim/orders', async () => [...store.orders.values()]);

  // --- Klarna-side decisions about customer tokens -------------------------------------------

  app.post('/_sim/tokens', async (request) => {
    const input = parseControl(createTokenSchema, request.body);
    const tokenId = newId();
    const token: CustomerTokenRecord = {
      token_id: tokenId,
      merchant: input.merchant ?? deps.merchant,
      status: input.status,
      created_at: store.clock.nowMs(),
      intent: input.intent,
      purchase_country: input.purchase_country,
      purchase_currency: input.purchase_currency,
      locale: input.locale,
      description: input.description,
      ...(input.billing_address ? { billing_address: input.billing_address } : {}),
      payment_method_reference: newId(),
      payment_method_type: input.payment_method_type,
      payment_method_failing: false,
      next_order_errors: [],
      order_ids: [],
    };
    store.tokens.set(tokenId, token);
    return { token_id: tokenId, ...tokenView(token) };
  });

  app.get('/_sim/tokens/:token', async (request: P<'token'>) => {
    const token = simToken(request.params.token);
    return { ...token, ...tokenView(token), created_at: new Date(token.created_at).toISOString() };
  });

  app.post('/_sim/tokens/:token/status', async (request: P<'token'>) => {
    const { status } = parseControl(tokenStatusSchema, request.body);
    const token = simToken(request.params.token);
    // Cancelling is irreversible at Klarna, also for the simulator's controls.
    if (token.status === 'CANCELLED' && status !== 'CANCELLED') {
      throw new KlarnaError(409, 'INVALID_OPERATION', ['A cancelled token cannot be reactivated']);
    }
    token.status = status;
    return tokenView(token);
  });

  app.post('/_sim/tokens/:token/next-order-error', async (request: P<'token'>) => {
    const { error_code, count } = parseControl(nextOrderErrorSchema, request.body);
    const token = simToken(request.params.token);
    for (let i = 0; i < count; i++) token.next_order_errors.push(error_code);
    return { token_id: token.token_id, next_order_errors: token.next_order_errors };
  });

  app.post('/_sim/tokens/:token/payment-method', async (request: P<'token'>) => {
    const input = parseControl(paymentMethodSchema, request.body);
    const token = simToken(request.params.token);
    if (input.failing !== undefined) token.payment_method_failing = input.failing;
    if (input.type) token.payment_method_type = input.type;
    return { token_id: token.token_id, payment_method_type: token.payment_method_type, failing: token.payment_method_failing };
  });

  // --- the network -----------------------------------------------------------------------------

  app.post('/_sim/faults', async (request) => {
    const input = parseControl(faultSchema, request.body);
    const rule: FaultRule = {
      id: newId(),
      ...(input.method ? { method: input.method } : {}),
      path: (input.path ?? input.route)!,
      ...(input.status !== undefined ? { status: input.status } : {}),
      ...(input.error_code ? { error_code: input.error_code } : {}),
      latency_ms: input.latencyMs,
      drop: input.drop,
      phase: input.phase,
      remaining: input.count ?? null,
      ...(input.rate !== undefined ? { rate: input.rate } : {}),
      seen: 0,
      matched: 0,
      created_at: store.clock.iso(),
    };
    store.faults.push(rule);
    return rule;
  });

  app.get('/_sim/faults', async () => store.faults);

  app.delete('/_sim/faults', async (_request, reply) => {
    store.faults = [];
    return reply.code(204).send();
  });

  app.delete('/_sim/faults/:id', async (request: P<'id'>, reply) => {
    const before = store.faults.length;
    store.faults = store.faults.filter((f) => f.id !== request.params.id);
    if (store.faults.length === before) throw new KlarnaError(404, 'NOT_FOUND', ['Fault not found']);
    return reply.code(204).send();
  });

  // --- time and state --------------------------------------------------------------------------

  app.get('/_sim/clock', async () => ({ now: store.clock.iso(), offset_seconds: store.clock.offsetSeconds() }));

  // Everything due by the new time happens before the answer: payment requests expire (with
  // their webhooks) and callback retries whose wait has passed are attempted.
  app.post('/_sim/clock/advance', async (request) => {
    const { seconds } = parseControl(clockAdvanceSchema, request.body);
    store.clock.advance(seconds);
    expireDuePaymentRequests(deps);
    await deps.callbacks.runDue();
    return { now: store.clock.iso(), offset_seconds: store.clock.offsetSeconds() };
  });

  app.post('/_sim/reset', async () => {
    store.reset();
    deps.callbacks.reset();
    return { reset: true, now: store.clock.iso() };
  });
}
