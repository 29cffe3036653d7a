import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { SimulatorDeps } from '../deps.js';
import { KlarnaError } from '../errors.js';
import { newId } from '../ids.js';
import { v2FinalStates, type PaymentRequestRecord, type WebhookRecord } from '../state/store.js';
import { fieldPath } from '../validation.js';
import { completePaymentRequest, findPaymentRequest, paymentRequestView, setPaymentRequestState } from './v2.js';

// /_sim controls for Klarna v2: the shopper's purchase journey for a payment request, scripted
// Payment Authorize results (seed 002's mismatched combinations), webhook registrations.

const resultSchema = z.enum(['APPROVED', 'STEP_UP_REQUIRED', 'DECLINED']);
const nextAuthorizeSchema = z.object({ payment: resultSchema.optional(), token: resultSchema.optional(), count: z.number().int().min(1).max(100).default(1) });
const completeSchema = z.object({ outcome: z.enum(['approve', 'decline', 'abort', 'back']).default('approve') });
const webhookSchema = z.object({
  url: z.url({ protocol: /^https?$/ }),
  event_types: z.array(z.string().min(1)).default([]),
  signing_key: z.string().min(16).optional(),
});
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
    open(deps, pr);
    const disabled = v2FinalStates.has(pr.state) ? 'disabled' : '';
    const b = (o: string, label: string) => `<button id="${o}" ${disabled} onclick="finish('${o}')">${label}</button>`;
    return reply.type('text/html; charset=utf-8').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Klarna purchase journey (simulator)</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto">
<h1>Klarna purchase journey (simulator)</h1>
<p>Payment request <code id="payment-request-id">${esc(pr.payment_request_id)}</code> · state <b id="state">${esc(pr.state)}</b></p>
<p>${pr.amount !== undefined ? `Amount <b>${esc((pr.amount / 100).toFixed(2))} ${esc(pr.currency)}</b>` : 'Save Klarna for later purchases (no payment now)'}
${pr.request_customer_token ? ` · token scopes <code>${esc(pr.request_customer_token.scopes.join(', '))}</code>` : ''}</p>
<p>${b('approve', 'Approve')}${b('decline', 'Decline')}${b('abort', 'Abort')}${b('back', 'Back')}</p>
<pre id="result"></pre>
<script>
async function finish(outcome) {
  const r = await fetch(${JSON.stringify(`/_sim/v2/payment-requests/${encodeURIComponent(pr.payment_request_id)}/complete`)}, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ outcome }) });
  const body = await r.json();
  document.getElementById('state').textContent = body.state || 'error';
  document.getElementById('result').textContent = JSON.stringify(body, null, 2);
}
</script></body></html>`);
  });

  app.post('/_sim/v2/payment-requests/:id/open', async (request: P) => {
    const pr = findPaymentRequest(deps, request.params.id);
    if (v2FinalStates.has(pr.state)) throw new KlarnaError(409, 'INVALID_STATE', [`Payment request is ${pr.state}`]);
    open(deps, pr);
    return paymentRequestView(deps, pr, deps.publicUrl(request));
  });

  /** approve → COMPLETED (tokens in state_context); decline → DECLINED; abort → CANCELED (PURCHASE_FLOW_ABORTED); back → SUBMITTED. */
  app.post('/_sim/v2/payment-requests/:id/complete', async (request: P) => {
    const { outcome } = parse(completeSchema, request.body);
    const pr = findPaymentRequest(deps, request.params.id);
    if (v2FinalStates.has(pr.state)) throw new KlarnaError(409, 'INVALID_STATE', [`Payment request is ${pr.state}`]);
    open(deps, pr);
    if (outcome === 'approve') completePaymentRequest(deps, pr);
    else if (outcome === 'decline') setPaymentRequestState(deps, pr, 'DECLINED');
    else if (outcome === 'abort') setPaymentRequestState(deps, pr, 'CANCELED', 'PURCHASE_FLOW_ABORTED');
    else setPaymentRequestState(deps, pr, 'SUBMITTED');
    const returnUrl = (pr.data.customer_interaction_config as { return_url?: string } | undefined)?.return_url;
    return { ...paymentRequestView(deps, pr, deps.publicUrl(request)), ...(returnUrl ? { redirect_to: returnUrl } : {}) };
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
      signing_key_id: newId(),
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
