import type { FastifyReply, FastifyRequest } from 'fastify';
import { correlationIdOf } from './context.js';

/**
 * Klarna v1 error: `{error_code, error_messages[], correlation_id}` plus, for some answers,
 * extra top-level fields (seed 000's step-up rejection adds fraud_status, reason,
 * authorized_payment_method and step_up_id). Route code throws it; the error handler renders it.
 */
export class KlarnaError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorCode: string,
    readonly errorMessages: string[],
    readonly extra: Record<string, unknown> = {},
  ) {
    super(`${statusCode} ${errorCode}: ${errorMessages.join('; ')}`);
    this.name = 'KlarnaError';
  }
}

export interface KlarnaErrorBody {
  error_code: string;
  error_messages: string[];
  correlation_id: string;
  [extra: string]: unknown;
}

export function klarnaErrorBody(error: KlarnaError, correlationId: string): KlarnaErrorBody {
  return { error_code: error.errorCode, error_messages: error.errorMessages, correlation_id: correlationId, ...error.extra };
}

/**
 * Klarna v2 error body (klarna-api-facts §4): `{error_id, error_type, error_code, error_message,
 * errors[]}`. error_id is the request's correlation id, so it matches Klarna-Correlation-Id.
 */
export function klarnaV2ErrorBody(error: KlarnaError, correlationId: string) {
  const s = error.statusCode;
  const errorType = s >= 500 ? 'TECHNICAL_ERROR' : s === 401 || s === 403 ? 'ACCESS_ERROR' : s === 404 || s === 409 ? 'RESOURCE_ERROR' : 'INPUT_ERROR';
  const { errors, ...extra } = error.extra as { errors?: unknown };
  return {
    error_id: correlationId,
    error_type: errorType,
    error_code: error.errorCode,
    error_message: error.errorMessages.join('; '),
    ...(errors ? { errors } : {}),
    ...extra,
  };
}

export const isV2Path = (url: string) => url.startsWith('/v2/');

/** Renders an error in the shape of the API the path belongs to (v1 or v2). */
export function errorBodyFor(url: string, error: KlarnaError, correlationId: string): Record<string, unknown> {
  return isV2Path(url) ? klarnaV2ErrorBody(error, correlationId) : klarnaErrorBody(error, correlationId);
}

export function sendKlarnaError(request: FastifyRequest, reply: FastifyReply, error: KlarnaError): FastifyReply {
  return reply.code(error.statusCode).type('application/json').send(errorBodyFor(request.url, error, correlationIdOf(request)));
}

/** The usual Klarna code and message for a bare HTTP status (fault injection, framework errors). */
export function errorForStatus(status: number, message?: string): KlarnaError {
  const byStatus: Record<number, [string, string]> = {
    400: ['BAD_REQUEST', 'Bad request'],
    401: ['UNAUTHORIZED', 'Unauthorized'],
    403: ['FORBIDDEN', 'Forbidden'],
    404: ['NOT_FOUND', 'Not found'],
    405: ['METHOD_NOT_ALLOWED', 'Method not allowed'],
    409: ['CONFLICT', 'Conflict'],
    413: ['BAD_REQUEST', 'Request body too large'],
    415: ['BAD_REQUEST', 'Content-Type must be application/json'],
    429: ['TOO_MANY_REQUESTS', 'Too many requests'],
    500: ['INTERNAL_SERVER_ERROR', 'An internal server error occurred. Try again later.'],
    502: ['BAD_GATEWAY', 'Bad gateway'],
    503: ['SERVICE_UNAVAILABLE', 'A temporary internal Klarna error occurred. Try again later.'],
    504: ['GATEWAY_TIMEOUT', 'Gateway timeout'],
  };
  const [code, text] = byStatus[status] ?? [status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST', `HTTP ${status}`];
  return new KlarnaError(status, code, [message ?? text]);
}

// The errors Klarna documents, by name, so routes and controls share status codes and wording.
export const klarnaErrors = {
  invalidAuthorizationToken: () => new KlarnaError(404, 'NOT_FOUND', ['Invalid authorization token']),
  authorizationConsumed: () => new KlarnaError(403, 'INVALID_OPERATION', ['Authorization token already consumed']),
  sessionNotFound: () => new KlarnaError(404, 'NOT_FOUND', ['Session not found']),
  sessionCompleted: () => new KlarnaError(404, 'SESSION_COMPLETED', ['Session is completed']),
  tokenNotFound: () => new KlarnaError(404, 'NOT_FOUND', ['Customer token not found']),
};

/**
 * Token-order error codes of seed 001 with their HTTP status and message. The scenario control
 * `POST /_sim/tokens/{t}/next-order-error` accepts exactly these codes.
 */
export const tokenOrderErrors = {
  TOKEN_NOT_FOUND: [404, 'The customer token was not found.'],
  TOKEN_SUSPENDED: [403, 'The customer token has been suspended.'],
  TOKEN_CANCELED: [403, 'The customer token has been canceled.'],
  TOKEN_CANCELLED: [403, 'The customer token has been cancelled.'],
  TOKEN_FORBIDDEN: [403, 'The customer token is not linked to this merchant.'],
  UNAVAILABLE_PAYMENT_METHOD: [403, 'Purchase for payment method failed'],
  PAYMENT_METHOD_CURRENCY_MISMATCH: [403, 'The payment method cannot be used for orders in the specified currency.'],
  PAYMENT_METHOD_FAILED: [403, 'Purchase for payment method failed'],
  REJECTED: [403, 'Rejected'],
  MERCHANT_INACTIVE: [403, 'Merchant is inactive'],
  BAD_REQUEST: [400, 'Bad request'],
  INTERNAL_SERVER_ERROR: [500, 'An internal server error occurred. Try again later.'],
  SERVICE_UNAVAILABLE: [503, 'A temporary internal Klarna error occurred. Try again later.'],
} as const satisfies Record<string, readonly [number, string]>;
export type TokenOrderErrorCode = keyof typeof tokenOrderErrors;
export const tokenOrderErrorCodes = Object.keys(tokenOrderErrors) as [TokenOrderErrorCode, ...TokenOrderErrorCode[]];

export function tokenOrderError(code: TokenOrderErrorCode, extra: Record<string, unknown> = {}): KlarnaError {
  const [status, message] = tokenOrderErrors[code];
  return new KlarnaError(status, code, [message], extra);
}
