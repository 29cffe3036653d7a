import { KlarnaApiError, type KlarnaErrorKind, type KlarnaOperation } from './errors.js';
import { v2ErrorBody, type V2ErrorBody } from './v2-schemas.js';

// Klarna v2 errors (`{error_id, error_type, error_code, error_message, errors[]}`, facts §4) onto
// the same kinds as v1 (klarna/errors.ts), so workflows treat both alike.

export function classifyV2Response(operation: KlarnaOperation, httpStatus: number, body: V2ErrorBody | undefined): KlarnaErrorKind {
  const code = body?.error_code;
  if (httpStatus === 401) return 'unauthorized';
  if (httpStatus === 429) return 'rate_limited';
  if (httpStatus >= 500) return 'server_error';
  // The simulator's name for it (Klarna documents no code): the one-hour token is gone.
  if (code === 'INVALID_NETWORK_SESSION_TOKEN' || (code ?? '').includes('NETWORK_SESSION_TOKEN')) return 'network_session_token_invalid';
  if (httpStatus === 404) return operation === 'v2_authorize' ? 'token_not_found' : 'not_found';
  if (httpStatus === 409) return code === 'INVALID_STATE' ? 'invalid_operation' : 'idempotency_conflict';
  if (httpStatus === 403) return code === 'MERCHANT_INACTIVE' ? 'merchant_inactive' : 'invalid_operation';
  if (httpStatus === 400) return 'invalid_request';
  return 'unexpected_response';
}

export function v2ErrorFromResponse(operation: KlarnaOperation, httpStatus: number, rawBody: unknown, correlationIdHeader?: string): KlarnaApiError {
  const parsed = v2ErrorBody.safeParse(rawBody);
  const body = parsed.success ? parsed.data : undefined;
  const messages = [
    ...(body?.error_message ? [body.error_message] : []),
    // Parameter names only, never values: these messages end up in logs and flow failures.
    ...(body?.errors ?? []).map((e) => `${e.parameter ?? 'body'}: ${e.error_message ?? 'invalid'}`),
  ];
  return new KlarnaApiError({
    kind: classifyV2Response(operation, httpStatus, body),
    operation,
    httpStatus,
    errorCode: body?.error_code,
    errorMessages: messages,
    correlationId: correlationIdHeader ?? body?.error_id,
  });
}
