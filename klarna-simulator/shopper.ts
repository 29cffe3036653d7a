import type { SimulatorDeps } from './deps.js';
import { newId } from './ids.js';
import { AUTHORIZATION_LIFETIME_MS } from './routes/payments-v1.js';
import type { AuthorizationRecord, CallbackDelivery, FraudStatus, PaymentMethodType, SessionRecord } from './state/store.js';

// What the shopper does at Klarna, shared by the authorize control, the purchase page and the
// Hosted Payment Page.

export interface AuthorizeInput {
  outcome?: 'approve' | 'decline';
  payment_method_type: PaymentMethodType;
  /** Absent: from the playground email triggers, else ACCEPTED. */
  fraud_status?: FraudStatus;
  /** Scenario: 'skip' sends no authorization callback; a number delays it by that many ms. */
  callback?: 'send' | 'skip';
  callback_delay_ms?: number;
}

export type AuthorizeResult =
  | { approved: false }
  | { approved: true; authorization: AuthorizationRecord; callback?: CallbackDelivery };

/**
 * The shopper approves or declines a Klarna Payments session. Approval issues a new
 * authorization token (valid 60 min) holding a snapshot of the cart, and sends the authorization
 * callback if the session has merchant_urls.authorization. Callers check the session is live.
 */
export function authorizeSession(deps: SimulatorDeps, session: SessionRecord, input: AuthorizeInput): AuthorizeResult {
  // Playground triggers (klarna-api-facts §6), used when the control does not say otherwise:
  // customer+denied@… and customer+reject_reason_…@… are declined; customer+pend-accept-MM@… and
  // customer+pend-reject-MM@… are authorized with fraud_status PENDING.
  const email = (session.data.billing_address?.email ?? '').toLowerCase();
  const declinedByEmail = /^customer\+(denied|reject_reason_[a-z_]+)@/.test(email);
  const outcome = input.outcome ?? (declinedByEmail ? 'decline' : 'approve');
  if (outcome === 'decline') return { approved: false };
  const fraudStatus: FraudStatus = input.fraud_status ?? (/^customer\+pend-(accept|reject)-\d+@/.test(email) ? 'PENDING' : 'ACCEPTED');

  const now = deps.store.clock.nowMs();
  const authorization: AuthorizationRecord = {
    authorization_token: newId(),
    session_id: session.session_id,
    intent: session.data.intent,
    authorized_at: now,
    expires_at: now + AUTHORIZATION_LIFETIME_MS,
    snapshot: structuredClone(session.data),
    payment_method_type: input.payment_method_type,
    fraud_status: fraudStatus,
    ...(session.data.step_up_id ? { step_up_id: session.data.step_up_id } : {}),
  };
  deps.store.authorizations.set(authorization.authorization_token, authorization);
  session.authorization_tokens.push(authorization.authorization_token);
  const callbackUrl = session.data.merchant_urls?.authorization;
  const callback =
    callbackUrl && input.callback !== 'skip'
      ? deps.callbacks.dispatch(
          'authorization',
          callbackUrl,
          { authorization_token: authorization.authorization_token, session_id: session.session_id },
          input.callback_delay_ms ? { initialDelayMs: input.callback_delay_ms } : {},
        )
      : undefined;
  return { approved: true, authorization, ...(callback ? { callback } : {}) };
}
