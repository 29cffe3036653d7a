import { klarnaErrorBody, type KlarnaErrorBody } from './payments-schemas.js';

/**
 * Klarna's answers, mapped to the outcomes this product acts on. Every documented error code
 * (klarna-api-facts §1–2, seed 001) lands on exactly one kind; `retryable` says whether the same
 * request may succeed later (Temporal retries those with backoff; the rest fail the activity
 * at once with `ApplicationFailure.nonRetryable`).
 *
 * This module is pure (no Node APIs) so workflows can import the kinds too.
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
  rate_limited: { retryable: true, meaning: 'Klarna throttled us (429); retry later.' },
  server_error: { retryable: true, meaning: 'Klarna failed internally (5xx); retry with the same idempotency key.' },
  network: { retryable: true, meaning: 'No answer from Klarna (timeout, connection reset); retry with the same idempotency key.' },
  unexpected_response: {
    retryable: false,
    meaning: 'Klarna answered with a status or body this product does not understand; needs a human.',
  },
} as const satisfies Record<string, { retryable: boolean; meaning: string }>;

export type KlarnaErrorKind = keyof typeof klarnaErrorKinds;

/** Which Klarna call failed: the same code means different things on different paths. */
export type KlarnaOperation =
  | 'create_session'
  | 'read_session'
  | 'create_customer_token'
  | 'read_customer_token'
  | 'create_order'
  | 'create_token_order'
  | 'release_authorization'
  | 'cancel_token'
  | 'create_hpp_session'
  | 'read_hpp_session'
  | 'disable_hpp_session';

export interface KlarnaErrorDetails {
  kind: KlarnaErrorKind;
  operation: KlarnaOperation;
  httpStatus?: number;
  errorCode?: string;
  errorMessages: string[];
  correlationId?: string;
  stepUpId?: string;
}

export class KlarnaApiError extends Error {
  readonly kind: KlarnaErrorKind;
  readonly retryable: boolean;
  constructor(readonly details: KlarnaErrorDetails) {
    const code = details.errorCode ? ` ${details.errorCode}` : '';
    const status = details.httpStatus ? ` (HTTP ${details.httpStatus}${code})` : code;
    super(`Klarna ${details.operation} failed: ${details.kind}${status}${details.errorMessages.length ? `: ${details.errorMessages.join('; ')}` : ''}`);
    this.name = 'KlarnaApiError';
    this.kind = details.kind;
    this.retryable = klarnaErrorKinds[details.kind].retryable;
  }
}

const tokenCodes: Record<string, KlarnaErrorKind> = {
  TOKEN_NOT_FOUND: 'token_not_found',
  TOKEN_SUSPENDED: 'token_suspended',
  // Klarna's docs spell it both ways.
  TOKEN_CANCELED: 'token_cancelled',
  TOKEN_CANCELLED: 'token_cancelled',
  TOKEN_FORBIDDEN: 'token_forbidden',
  PAYMENT_METHOD_CURRENCY_MISMATCH: 'currency_mismatch',
  PAYMENT_METHOD_FAILED: 'payment_method_failed',
  MERCHANT_INACTIVE: 'merchant_inactive',
  REJECTED: 'rejected',
  INVALID_OPERATION: 'invalid_operation',
};

/** Maps an HTTP status and Klarna error body to a kind. */
export function classifyKlarnaResponse(
  operation: KlarnaOperation,
  httpStatus: number,
  body: KlarnaErrorBody | undefined,
): KlarnaErrorKind {
  const code = body?.error_code;
  if (httpStatus === 401) return 'unauthorized';
  if (httpStatus === 429) return 'rate_limited';
  if (httpStatus >= 500) return 'server_error';
  if (code === 'UNAVAILABLE_PAYMENT_METHOD') return body?.step_up_id ? 'step_up_required' : 'payment_method_unavailable';
  if (code && tokenCodes[code]) return tokenCodes[code];
  if (httpStatus === 409) return operation === 'create_token_order' ? 'idempotency_conflict' : 'fields_not_matching';
  if (httpStatus === 404) {
    if (code === 'SESSION_COMPLETED') return 'session_completed';
    if (operation === 'create_customer_token' || operation === 'create_order' || operation === 'release_authorization') {
      return 'authorization_not_found';
    }
    if (operation === 'read_session') return 'session_not_found';
    if (operation === 'read_customer_token' || operation === 'cancel_token') return 'token_not_found';
    return 'not_found';
  }
  if (httpStatus === 400 || code === 'BAD_REQUEST' || code === 'BAD_VALUE') return 'invalid_request';
  return 'unexpected_response';
}

/** Builds the typed error from a raw response; tolerates non-JSON or non-Klarna bodies. */
export function klarnaErrorFromResponse(
  operation: KlarnaOperation,
  httpStatus: number,
  rawBody: unknown,
  correlationIdHeader?: string,
): KlarnaApiError {
  const parsed = klarnaErrorBody.safeParse(rawBody);
  const body = parsed.success ? parsed.data : undefined;
  return new KlarnaApiError({
    kind: classifyKlarnaResponse(operation, httpStatus, body),
    operation,
    httpStatus,
    errorCode: body?.error_code,
    errorMessages: body?.error_messages ?? [],
    correlationId: body?.correlation_id ?? correlationIdHeader,
    stepUpId: body?.step_up_id,
  });
}

/** Prefix of the Temporal ApplicationFailure `type` for Klarna errors: `Klarna.<kind>`. */
export const klarnaFailureTypePrefix = 'Klarna.';
export const klarnaFailureType = (kind: KlarnaErrorKind) => `${klarnaFailureTypePrefix}${kind}`;
export function kindFromFailureType(type: string | undefined | null): KlarnaErrorKind | undefined {
  if (!type?.startsWith(klarnaFailureTypePrefix)) return undefined;
  const kind = type.slice(klarnaFailureTypePrefix.length);
  return kind in klarnaErrorKinds ? (kind as KlarnaErrorKind) : undefined;
}
