import { createHmac } from 'node:crypto';
import type { SimulatorDeps } from './deps.js';
import { newId } from './ids.js';
import type { PaymentRequestRecord } from './state/store.js';

// Klarna v2 webhooks (klarna-api-facts §4, seed 003): an envelope {metadata, payload} POSTed to
// each registered webhook, signed with HMAC-SHA256 of the raw body (hex) under the webhook's
// signing key, headers Klarna-Signing-Key-Id and Klarna-Signature. Retries at +10 s, +2 min,
// +15 min, 3 h, 6 h, 12 h (../callbacks.ts); at-least-once, so duplicates, holds for reordering
// and delays can be produced on demand (POST /_sim/callbacks/scenario, …/redeliver).

export function signWebhook(raw: string, signingKey: string): string {
  return createHmac('sha256', signingKey).update(raw).digest('hex');
}

/** payment.request.state-change.<state>, e.g. …in-progress, …completed. */
export const stateChangeEvent = (state: string) => `payment.request.state-change.${state.toLowerCase().replace(/_/g, '-')}`;

export function paymentRequestPayload(pr: PaymentRequestRecord) {
  return {
    payment_request_id: pr.payment_request_id,
    state: pr.state,
    ...(pr.previous_state ? { previous_state: pr.previous_state } : {}),
    ...(pr.payment_request_reference ? { payment_request_reference: pr.payment_request_reference } : {}),
    state_context: stateContext(pr),
  };
}

export function stateContext(pr: PaymentRequestRecord): Record<string, unknown> {
  if (pr.state === 'COMPLETED') {
    return {
      ...(pr.klarna_network_session_token ? { klarna_network_session_token: pr.klarna_network_session_token } : {}),
      ...(pr.customer_token
        ? { klarna_customer: { customer_token: pr.customer_token, ...(pr.request_customer_token?.customer_token_reference ? { customer_token_reference: pr.request_customer_token.customer_token_reference } : {}) } }
        : {}),
    };
  }
  return {};
}

export function emitWebhook(deps: SimulatorDeps, eventType: string, payload: unknown, correlationId?: string): void {
  const { store } = deps;
  for (const hook of store.webhooks) {
    if (hook.event_types.length && !hook.event_types.includes(eventType)) continue;
    const envelope = {
      metadata: {
        event_type: eventType,
        event_id: newId(),
        event_version: 'v2',
        occurred_at: store.clock.iso(),
        ...(correlationId ? { correlation_id: correlationId } : {}),
        subject_account_id: 'krn:partner:global:account:test:SIMULATOR',
        recipient_account_id: `krn:partner:global:account:test:${deps.merchant}`,
        product_instance_id: 'krn:partner:product:payment:simulator',
        webhook_id: hook.webhook_id,
        live: false,
      },
      payload,
    };
    const raw = JSON.stringify(envelope);
    deps.callbacks.dispatch('webhook', hook.url, envelope, {
      raw,
      headers: { 'Klarna-Signing-Key-Id': hook.signing_key_id, 'Klarna-Signature': signWebhook(raw, hook.signing_key) },
    });
  }
}
