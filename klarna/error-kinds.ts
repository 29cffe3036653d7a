// Klarna's error kinds and the Temporal failure types named after them, as plain data: workflows
// import these, and the workflow sandbox evaluates every imported module again for each run, so
// this module imports nothing (no zod; see docs/performance.md, "The workflow bundle").

/**
 * Klarna's answers, mapped to the outcomes this product acts on. Every documented error code
 * (klarna-api-facts §1–2, seed 001) lands on exactly one kind; `retryable` says whether the same
 * request may succeed later (Temporal retries those with backoff; the rest fail the activity
 * at once with `ApplicationFailure.nonRetryable`).
 */
export const klarnaErrorKinds = {
  unauthorized: { retryable: false, meaning: 'Klarna rejected our API credentials (401): a configuration problem.' },
  merchant_inactive: { retryable: false, meaning: 'The merchant account is not active at Klarna.' },
  invalid_request: { retryable: false, meaning: 'Klarna rejected the request body (BAD_REQUEST / BAD_VALUE, 400).' },
  authorization_not_found: {
    retryable: false,
    meaning: 'The authorization token is unknown or expired (older than 60 minutes): the shopper must authorize again.',
  },
  session_not_found: { retryable: false, meaning: 'The Klarna Payments session does not exist or has expired.' },
  session_completed: { retryable: false, meaning: 'The session already led to an order.' },
  invalid_operation: {
    retryable: false,
    meaning: 'Not allowed in this state, e.g. a customer token for intent buy, or an authorization already consumed.',
  },
  rejected: { retryable: false, meaning: 'Klarna rejected the purchase.' },
  fields_not_matching: { retryable: false, meaning: 'The cart or addresses changed since the shopper authorized (409).' },
  idempotency_conflict: { retryable: false, meaning: 'The idempotency key was used before with a different request.' },
  token_not_found: { retryable: false, meaning: 'The customer token does not exist.' },
  token_suspended: { retryable: false, meaning: 'Klarna suspended the customer token.' },
  token_cancelled: { retryable: false, meaning: 'The customer token was cancelled; a new one is needed.' },
  token_forbidden: { retryable: false, meaning: 'The customer token belongs to another merchant.' },
  step_up_required: {
    retryable: false,
    meaning: 'The charge failed but the shopper can fix it through step-up (the error carries step_up_id).',
  },
  payment_method_unavailable: { retryable: false, meaning: 'The stored payment method is not available (e.g. a failed card).' },
  currency_mismatch: { retryable: false, meaning: 'The payment method cannot be charged in this currency.' },
  payment_method_failed: { retryable: false, meaning: 'The purchase with this payment method failed (e.g. credit declined).' },
  not_found: { retryable: false, meaning: 'Klarna answered 404 for a resource not covered above.' },
  network_session_token_invalid: {
    retryable: false,
    meaning: 'v2: the klarna_network_session_token is unknown, cancelled or older than its hour; the shopper must approve again.',
  },
  rate_limited: { retryable: true, meaning: 'Klarna throttled us (429); retry later.' },
  server_error: { retryable: true, meaning: 'Klarna failed internally (5xx); retry with the same idempotency key.' },
  network: { retryable: true, meaning: 'No answer from Klarna (timeout, connection reset); retry with the same idempotency key.' },
  unexpected_response: {
    retryable: false,
    meaning: 'Klarna answered with a status or body this product does not understand; needs a human.',
  },
} as const satisfies Record<string, { retryable: boolean; meaning: string }>;

export type KlarnaErrorKind = keyof typeof klarnaErrorKinds;

/** Prefix of the Temporal ApplicationFailure `type` for Klarna errors: `Klarna.<kind>`. */
export const klarnaFailureTypePrefix = 'Klarna.';
export const klarnaFailureType = (kind: KlarnaErrorKind) => `${klarnaFailureTypePrefix}${kind}`;
export function kindFromFailureType(type: string | undefined | null): KlarnaErrorKind | undefined {
  if (!type?.startsWith(klarnaFailureTypePrefix)) return undefined;
  const kind = type.slice(klarnaFailureTypePrefix.length);
  return kind in klarnaErrorKinds ? (kind as KlarnaErrorKind) : undefined;
}
