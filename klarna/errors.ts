import { klarnaErrorBody, type KlarnaErrorBody } from './payments-schemas.js';
import { klarnaErrorKinds, type KlarnaErrorKind } from './error-kinds.js';

// Errors from Klarna's answers, classified into the kinds of klarna/error-kinds.ts.
export { kindFromFailureType, klarnaErrorKinds, klarnaFailureType, klarnaFailureTypePrefix, type KlarnaErrorKind } from './error-kinds.js';

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
  | 'disable_hpp_session'
  // Klarna v2 (klarna/v2-client.ts, classified by klarna/v2-errors.ts)
  | 'v2_authorize'
  | 'v2_create_payment_request'
  | 'v2_read_payment_request'
  | 'v2_cancel_payment_request';

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
