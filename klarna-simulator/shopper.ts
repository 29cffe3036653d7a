import type { SimulatorDeps } from './deps.js';
import { newId } from './ids.js';
import { AUTHORIZATION_LIFETIME_MS } from './routes/payments-v1.js';
import type { AuthorizationRecord, CallbackDelivery, FraudStatus, PaymentMethodType, SessionRecord } from './state/store.js';

// What the shopper does at Klarna, shared by the authorize control, the purchase page and the
// Hosted Payment Page.

export interface AuthorizeInput {
  outcome?: 'approve' | 'decline';
  /** The address the shopper logs in with at Klarna; default the session's billing email. */
  email?: string;
  /** The one-time password the shopper types (playground: any 6 digits except 999999). */
  otp?: string;
  /** Scenario: authorized_payment_method in the order answer as a bare string (the seeds' samples). */
  authorized_payment_method_format?: 'object' | 'string';
  payment_method_type: PaymentMethodType;
  /** Absent: from the playground email triggers, else ACCEPTED. */
  fraud_status?: FraudStatus;
  /** Scenario: 'skip' sends no authorization callback; a number delays it by that many ms. */
  callback?: 'send' | 'skip';
  callback_delay_ms?: number;
}

export type AuthorizeResult =
  | { approved: false; reason: DeclineReason }
  | { approved: true; authorization: AuthorizationRecord; callback?: CallbackDelivery };

export type DeclineReason = 'shopper_declined' | 'denied' | 'step_up_failed' | 'otp_failed';

export interface ShopperDecision {
  approved: boolean;
  reason?: DeclineReason;
  /** The extra authentication a customer+denied+auth_<method>@… shopper went through. */
  step_up_method?: string;
  pending?: boolean;
}

/** Klarna's playground OTP: any six digits except 999999. */
export const otpPasses = (otp: string) => /^\d{6}$/.test(otp) && otp !== '999999';

/**
 * What the shopper's Klarna login decides when the test does not force an outcome, following
 * Klarna's playground addresses (klarna-api-facts §6): customer+denied@… and
 * customer+reject_reason_…@… are declined; customer+denied+auth_<method>@… is declined unless the
 * shopper passes the extra authentication (the OTP: any 6 digits except 999999, default 123456);
 * customer+pend-accept|reject-MM@… is approved with fraud_status PENDING; anyone else is approved.
 * A wrong OTP (999999) fails the login for every address.
 */
export function shopperDecision(emailInput: string | undefined, otp: string | undefined): ShopperDecision {
  const email = (emailInput ?? '').toLowerCase();
  const stepUp = /^customer\+denied\+auth_([a-z_]+)@/.exec(email);
  if (stepUp) {
    return otpPasses(otp ?? '123456') ? { approved: true, step_up_method: stepUp[1]! } : { approved: false, reason: 'step_up_failed' };
  }
  if (otp !== undefined && !otpPasses(otp)) return { approved: false, reason: 'otp_failed' };
  if (/^customer\+(denied|reject_reason_[a-z_]+)@/.test(email)) return { approved: false, reason: 'denied' };
  return { approved: true, pending: /^customer\+pend-(accept|reject)-\d+@/.test(email) };
}

/**
 * The shopper approves or declines a Klarna Payments session. Approval issues a new
 * authorization token (valid 60 min) holding a snapshot of the cart, and sends the authorization
 * callback if the session has merchant_urls.authorization. Callers check the session is live.
 */
export function authorizeSession(deps: SimulatorDeps, session: SessionRecord, input: AuthorizeInput): AuthorizeResult {
  // An explicit outcome wins; otherwise the playground address the shopper logs in with decides.
  const decision = shopperDecision(input.email ?? session.data.billing_address?.email, input.otp);
  if (input.outcome === 'decline') return { approved: false, reason: 'shopper_declined' };
  if (input.outcome === undefined && !decision.approved) return { approved: false, reason: decision.reason ?? 'denied' };
  const fraudStatus: FraudStatus = input.fraud_status ?? (decision.pending ? 'PENDING' : 'ACCEPTED');

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
    ...(input.authorized_payment_method_format ? { authorized_payment_method_format: input.authorized_payment_method_format } : {}),
    ...(input.outcome === undefined && decision.step_up_method ? { step_up_method: decision.step_up_method } : {}),
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
