import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SimulatorDeps } from '../deps.js';
import { KlarnaError } from '../errors.js';
import { newId } from '../ids.js';
import { authorizeSession, type AuthorizeInput } from '../shopper.js';
import { HOUR } from '../state/clock.js';
import { hppFinalStatuses, type HppSessionRecord, type HppStatus } from '../state/store.js';
import { createHppSessionSchema, parseKlarnaBody, type CreateOrderBody } from '../validation.js';
import { liveSession, placeAuthorizationOrder } from './payments-v1.js';

// Hosted Payment Page v1 (klarna-api-facts §3; seed 000's HPP path): a page at Klarna that hosts
// a Klarna Payments session, reports its state by GET and by status_update callbacks, and can
// place the order itself (place_order_mode PLACE_ORDER / CAPTURE_ORDER).

/** Klarna: the HPP session ends about an hour before the KP session it hosts. */
const HPP_BEFORE_KP_EXPIRY_MS = 1 * HOUR;

type Params = FastifyRequest<{ Params: { id: string } }>;

export function hppView(hpp: HppSessionRecord) {
  return {
    session_id: hpp.session_id,
    status: hpp.status,
    updated_at: new Date(hpp.updated_at).toISOString(),
    expires_at: new Date(hpp.expires_at).toISOString(),
    ...(hpp.authorization_token ? { authorization_token: hpp.authorization_token } : {}),
    ...(hpp.order_id ? { order_id: hpp.order_id } : {}),
    ...(hpp.klarna_reference ? { klarna_reference: hpp.klarna_reference } : {}),
  };
}

export function liveHpp(deps: SimulatorDeps, id: string): HppSessionRecord {
  const hpp = deps.store.hppSessions.get(id);
  if (!hpp || deps.store.clock.nowMs() >= hpp.expires_at) throw new KlarnaError(404, 'NOT_FOUND', ['HPP session not found']);
  return hpp;
}

/** Moves the session to a new state and sends the status_update callback: `{event_id, session}`. */
export function setHppStatus(deps: SimulatorDeps, hpp: HppSessionRecord, status: HppStatus): void {
  hpp.status = status;
  hpp.updated_at = deps.store.clock.nowMs();
  const url = hpp.merchant_urls.status_update;
  if (url) {
    // Delivery rules for this kind (3 s, up to 3 retries) live in ../callbacks.ts.
    deps.callbacks.dispatch('hpp_status_update', fillPlaceholders(url, hpp, false), { event_id: newId(), session: hppView(hpp) });
  }
}

/** {{session_id}} is the HPP id; {{authorization_token}} only in the success URL; {{order_id}} when placed. */
export function fillPlaceholders(template: string, hpp: HppSessionRecord, success: boolean): string {
  return template
    .replaceAll('{{session_id}}', encodeURIComponent(hpp.session_id))
    .replaceAll('{{authorization_token}}', success && hpp.authorization_token ? encodeURIComponent(hpp.authorization_token) : '')
    .replaceAll('{{order_id}}', hpp.order_id ? encodeURIComponent(hpp.order_id) : '');
}

export type HppOutcome = 'approve' | 'decline' | 'cancel' | 'back' | 'error';

/** The shopper opened the page: WAITING (or a retryable state) → IN_PROGRESS. */
export function openHpp(deps: SimulatorDeps, hpp: HppSessionRecord): void {
  if (hppFinalStatuses.has(hpp.status) || hpp.status === 'IN_PROGRESS') return;
  setHppStatus(deps, hpp, 'IN_PROGRESS');
}

/**
 * The shopper finishes on the hosted page. approve authorizes the KP session (its authorization
 * callback included) and, in PLACE_ORDER / CAPTURE_ORDER mode, places the order with the
 * session's cart; a refused order (e.g. REJECTED) ends in FAILED.
 */
export function finishHpp(
  deps: SimulatorDeps,
  hpp: HppSessionRecord,
  /** Absent: the shopper's login decides (playground addresses), as on the purchase page. */
  outcome: HppOutcome | undefined,
  input: Omit<AuthorizeInput, 'outcome'>,
  baseUrl: string,
): { status: HppStatus; redirect_to?: string; error?: unknown } {
  if (hppFinalStatuses.has(hpp.status)) throw new KlarnaError(409, 'INVALID_OPERATION', [`HPP session is ${hpp.status}`]);
  openHpp(deps, hpp);
  const to = (which: keyof HppSessionRecord['merchant_urls'], success = false) => {
    const t = hpp.merchant_urls[which];
    return t ? { redirect_to: fillPlaceholders(t, hpp, success) } : {};
  };
  if (outcome === 'cancel') {
    setHppStatus(deps, hpp, 'CANCELLED');
    return { status: hpp.status, ...to('cancel') };
  }
  if (outcome === 'back') {
    setHppStatus(deps, hpp, 'BACK');
    return { status: hpp.status, ...to('back') };
  }
  if (outcome === 'error') {
    setHppStatus(deps, hpp, 'ERROR');
    return { status: hpp.status, ...to('error') };
  }
  let session;
  try {
    session = liveSession(deps, hpp.kp_session_id);
    if (session.status === 'complete') throw new KlarnaError(409, 'SESSION_COMPLETED', ['Session is completed']);
  } catch (err) {
    setHppStatus(deps, hpp, 'ERROR');
    return { status: hpp.status, ...to('error'), error: err instanceof KlarnaError ? err.errorCode : String(err) };
  }
  const result = authorizeSession(deps, session, { ...input, ...(outcome ? { outcome: outcome === 'approve' ? 'approve' : 'decline' } : {}) });
  if (!result.approved) {
    setHppStatus(deps, hpp, 'FAILED');
    return { status: hpp.status, ...to('failure') };
  }
  hpp.authorization_token = result.authorization.authorization_token;
  if (hpp.place_order_mode !== 'NONE') {
    const { intent: _intent, acquiring_channel: _channel, step_up_id: _stepUp, ...cart } = result.authorization.snapshot;
    const order: CreateOrderBody = { ...cart, auto_capture: hpp.place_order_mode === 'CAPTURE_ORDER' };
    try {
      const placed = placeAuthorizationOrder(deps, result.authorization, order, baseUrl);
      hpp.order_id = String(placed.order_id);
      hpp.klarna_reference = randomBytes(4).toString('hex').toUpperCase();
      // In PLACE/CAPTURE mode the merchant gets the order, not the authorization token.
      delete hpp.authorization_token;
    } catch (err) {
      delete hpp.authorization_token;
      setHppStatus(deps, hpp, 'FAILED');
      return { status: hpp.status, ...to('failure'), error: err instanceof KlarnaError ? err.errorCode : String(err) };
    }
  }
  setHppStatus(deps, hpp, 'COMPLETED');
  return { status: hpp.status, ...to('success', true) };
}

export function registerHppV1Routes(app: FastifyInstance, deps: SimulatorDeps): void {
  const { store } = deps;

  app.post('/hpp/v1/sessions', async (request, reply) => {
    const body = parseKlarnaBody(createHppSessionSchema, request.body);
    // payment_session_url is the full KP session URL; only its path is checked, so any base URL
    // the merchant uses for the simulator works.
    const match = /\/payments\/v1\/sessions\/([^/?#]+)\/?$/.exec(new URL(body.payment_session_url).pathname);
    const kp = match ? store.sessions.get(decodeURIComponent(match[1]!)) : undefined;
    if (!kp || store.clock.nowMs() >= kp.expires_at || kp.status === 'complete') {
      throw new KlarnaError(400, 'BAD_VALUE', ['Bad value: payment_session_url']);
    }
    const now = store.clock.nowMs();
    const id = newId();
    const hpp: HppSessionRecord = {
      session_id: id,
      kp_session_id: kp.session_id,
      status: 'WAITING',
      created_at: now,
      updated_at: now,
      expires_at: Math.max(now, kp.expires_at - HPP_BEFORE_KP_EXPIRY_MS),
      merchant_urls: body.merchant_urls ?? {},
      place_order_mode: body.options?.place_order_mode ?? 'NONE',
      options: body.options ?? {},
    };
    store.hppSessions.set(id, hpp);
    const base = deps.publicUrl(request);
    return reply.code(201).send({
      session_id: id,
      session_url: `${base}/hpp/v1/sessions/${id}`,
      redirect_url: `${base}/_sim/hpp/${id}`,
      qr_code_url: `${base}/_sim/hpp/${id}?qr=1`,
      distribution_url: `${base}/hpp/v1/sessions/${id}/distribution`,
      manual_identification_check_url: `${base}/hpp/v1/sessions/${id}/manual-id-check`,
      expires_at: new Date(hpp.expires_at).toISOString(),
      distribution_module: {
        generation_url: `${base}/hpp/v1/sessions/${id}/distribution`,
        standalone_url: `${base}/_sim/hpp/${id}`,
        token: randomBytes(16).toString('hex'),
      },
    });
  });

  app.get('/hpp/v1/sessions/:id', async (request: Params) => hppView(liveHpp(deps, request.params.id)));

  app.delete('/hpp/v1/sessions/:id', async (request: Params, reply) => {
    const hpp = liveHpp(deps, request.params.id);
    if (hppFinalStatuses.has(hpp.status)) throw new KlarnaError(400, 'BAD_REQUEST', [`HPP session is already ${hpp.status}`]);
    setHppStatus(deps, hpp, 'DISABLED');
    return reply.code(204).send();
  });
}
