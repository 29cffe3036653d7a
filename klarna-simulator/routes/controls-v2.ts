import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { SimulatorDeps } from '../deps.js';
import { KlarnaError } from '../errors.js';
import { newId } from '../ids.js';
import { v2FinalStates, type PaymentRequestRecord, type WebhookRecord } from '../state/store.js';
import { fieldPath } from '../validation.js';
import { shopperDecision } from '../shopper.js';
import { browserAnswer, isFormPost } from './controls.js';
import { page, shopperForm } from './purchase-page.js';
import { completePaymentRequest, findPaymentRequest, paymentRequestView, setPaymentRequestState } from './v2.js';

// /_sim controls for Klarna v2: the shopper's purchase journey for a payment request, scripted
// Payment Authorize results (seed 002's mismatched combinations), webhook registrations.

const resultSchema = z.enum(['APPROVED', 'STEP_UP_REQUIRED', 'DECLINED']);
const nextAuthorizeSchema = z.object({ payment: resultSchema.optional(), token: resultSchema.optional(), count: z.number().int().min(1).max(100).default(1) });
const completeSchema = z.object({
  /** Absent: the shopper's login decides (playground address + OTP), else approve. cancel = abort. */
  outcome: z.enum(['approve', 'decline', 'abort', 'cancel', 'back']).optional(),
  email: z.string().min(3).max(254).optional(),
  otp: z.string().max(12).optional(),
});
const webhookSchema = z.object({
  url: z.url({ protocol: /^https?$/ }),
  event_types: z.array(z.string().min(1)).default([]),
  signing_key: z.string().min(16).optional(),
  signing_key_id: z.string().min(1).optional(),
});

/**
 * Klarna fills {klarna.payment_request.<field>} placeholders in return_url when it sends the
 * shopper back (values URL-encoded; a field without a value becomes empty; others are left as is).
 */
export function fillReturnUrl(template: string, pr: PaymentRequestRecord): string {
  const values: Record<string, string | undefined> = {
    id: pr.payment_request_id,
    state: pr.state,
    payment_request_reference: pr.payment_request_reference,
    klarna_network_session_token: pr.klarna_network_session_token,
    // Older docs call the same one-hour token payment_token.
    payment_token: pr.klarna_network_session_token,
  };
  return template.replace(/\{klarna\.payment_request\.([a-z_]+)\}/g, (whole, field: string) =>
    field in values ? encodeURIComponent(values[field] ?? '') : whole,
  );
}
const v2TokenStatusSchema = z.object({ status: z.enum(['ACTIVE', 'CANCELLED']) });

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  throw new KlarnaError(400, 'BAD_VALUE', parsed.error.issues.map((i) => `Bad value: ${fieldPath(i.path)} (${i.message})`));
}

type P = FastifyRequest<{ Params: { id: string } }>;

const esc = (v: unknown) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function open(deps: SimulatorDeps, pr: PaymentRequestRecord): void {
  if (pr.state === 'SUBMITTED') setPaymentRequestState(deps, pr, 'IN_PROGRESS');
}

export function registerV2ControlRoutes(app: FastifyInstance, deps: SimulatorDeps): void {
  const { store } = deps;

  // payment_request_url lands here: the shopper opening it moves SUBMITTED → IN_PROGRESS.
  app.get('/_sim/v2/pay/:id', async (request: P, reply) => {
    const pr = store.paymentRequests.get(request.params.id);
    if (!pr) return reply.code(404).type('text/html; charset=utf-8').send(`<!doctype html><p>No payment request ${esc(request.params.id)}</p>`);
    findPaymentRequest(deps, pr.payment_request_id); // applies expiry
    if (request.method === 'GET') open(deps, pr); // HEAD is no shopper arriving
    const buttons: [string, string][] = [
      ['approve', 'Approve'],
      ['decline', 'Decline'],
      ['cancel', 'Cancel'],
      ['back', 'Back'],
    ];
    const body = `
<p>Payment request <code id="payment-request-id">${esc(pr.payment_request_id)}</code> · state <b id="state">${esc(pr.state)}</b></p>
<p>${pr.amount !== undefined ? `Amount <b>${esc((pr.amount / 100).toFixed(2))} ${esc(pr.currency)}</b>` : 'Save Klarna for later purchases (no payment now)'}
${pr.request_customer_token ? ` · token scopes <code>${esc(pr.request_customer_token.scopes.join(', '))}</code>` : ''}</p>
${shopperForm(`/_sim/v2/payment-requests/${encodeURIComponent(pr.payment_request_id)}/complete`, undefined, buttons, v2FinalStates.has(pr.state))}`;
    return reply.type('text/html; charset=utf-8').send(page('Klarna purchase journey (simulator)', body));
  });

  app.post('/_sim/v2/payment-requests/:id/open', async (request: P) => {
    const pr = findPaymentRequest(deps, request.params.id);
    if (v2FinalStates.has(pr.state)) throw new KlarnaError(409, 'INVALID_STATE', [`Payment request is ${pr.state}`]);
    open(deps, pr);
    return paymentRequestView(deps, pr, deps.publicUrl(request));
  });

  /**
   * approve → COMPLETED (tokens in state_context); decline → DECLINED; abort/cancel → CANCELED
   * (PURCHASE_FLOW_ABORTED); back → SUBMITTED. Klarna then sends the shopper to return_url
   * (placeholders filled) whatever the outcome: a form post gets that as a 303.
   */
  app.post('/_sim/v2/payment-requests/:id/complete', async (request: P, reply) => {
    const { outcome, email, otp } = parse(completeSchema, request.body);
    const pr = findPaymentRequest(deps, request.params.id);
    if (v2FinalStates.has(pr.state)) throw new KlarnaError(409, 'INVALID_STATE', [`Payment request is ${pr.state}`]);
    open(deps, pr);
    const decision = outcome === undefined ? shopperDecision(email, otp) : undefined;
    const chosen = outcome ?? (decision!.approved ? 'approve' : 'decline');
    if (chosen === 'approve') completePaymentRequest(deps, pr);
    else if (chosen === 'decline') setPaymentRequestState(deps, pr, 'DECLINED');
    else if (chosen === 'abort' || chosen === 'cancel') setPaymentRequestState(deps, pr, 'CANCELED', 'PURCHASE_FLOW_ABORTED');
    else setPaymentRequestState(deps, pr, 'SUBMITTED');
    const returnUrl = (pr.data.customer_interaction_config as { return_url?: string } | undefined)?.return_url;
    const redirectTo = returnUrl ? fillReturnUrl(returnUrl, pr) : undefined;
    const answer = {
      ...paymentRequestView(deps, pr, deps.publicUrl(request)),
      ...(decision?.step_up_method ? { step_up_method: decision.step_up_method } : {}),
      ...(redirectTo ? { redirect_to: redirectTo } : {}),
    };
    if (isFormPost(request)) return browserAnswer(reply, redirectTo, `Payment request ${pr.state}`, answer);
    return answer;
  });

  app.post('/_sim/v2/authorize/next', async (request) => {
    const { payment, token, count } = parse(nextAuthorizeSchema, request.body);
    for (let i = 0; i < count; i++) store.nextAuthorizeResults.push({ ...(payment ? { payment } : {}), ...(token ? { token } : {}) });
    return { next_authorize_results: store.nextAuthorizeResults };
  });

  app.post('/_sim/v2/tokens/:id/status', async (request: P) => {
    const { status } = parse(v2TokenStatusSchema, request.body);
    const token = store.v2Tokens.get(request.params.id);
    if (!token) throw new KlarnaError(404, 'NOT_FOUND', ['Customer token not found']);
    token.status = status;
    return token;
  });

  app.get('/_sim/v2/tokens/:id', async (request: P) => {
    const token = store.v2Tokens.get(request.params.id);
    if (!token) throw new KlarnaError(404, 'NOT_FOUND', ['Customer token not found']);
    return token;
  });

  app.post('/_sim/webhooks', async (request) => {
    const input = parse(webhookSchema, request.body);
    const hook: WebhookRecord = {
      webhook_id: `krn:partner:global:notification:webhook:${newId()}`,
      url: input.url,
      signing_key_id: input.signing_key_id ?? newId(),
      signing_key: input.signing_key ?? randomBytes(32).toString('hex'),
      event_types: input.event_types,
    };
    store.webhooks.push(hook);
    return hook;
  });

  app.get('/_sim/webhooks', async () => store.webhooks);

  app.delete('/_sim/webhooks', async (_request, reply) => {
    store.webhooks = [];
    return reply.code(204).send();
  });
}
