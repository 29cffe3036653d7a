import { describe, expect, it } from 'vitest';
import {
  classifyKlarnaResponse,
  kindFromFailureType,
  klarnaErrorFromResponse,
  klarnaErrorKinds,
  klarnaFailureType,
  type KlarnaErrorKind,
  type KlarnaOperation,
} from '../../klarna/errors.js';

const body = (error_code: string, extra: object = {}) => ({ error_code, error_messages: ['m'], correlation_id: 'c-1', ...extra });

describe('Klarna error taxonomy', () => {
  // Seed 001's documented errors, each with the outcome the sagas act on.
  const cases: [KlarnaOperation, number, string, KlarnaErrorKind][] = [
    ['create_customer_token', 404, 'NOT_FOUND', 'authorization_not_found'],
    ['create_customer_token', 400, 'BAD_VALUE', 'invalid_request'],
    ['create_customer_token', 400, 'BAD_REQUEST', 'invalid_request'],
    ['create_customer_token', 403, 'INVALID_OPERATION', 'invalid_operation'],
    ['create_order', 404, 'NOT_FOUND', 'authorization_not_found'],
    ['create_order', 409, 'BAD_VALUE', 'fields_not_matching'],
    ['create_order', 403, 'REJECTED', 'rejected'],
    ['create_token_order', 404, 'TOKEN_NOT_FOUND', 'token_not_found'],
    ['create_token_order', 403, 'TOKEN_SUSPENDED', 'token_suspended'],
    ['create_token_order', 403, 'TOKEN_CANCELED', 'token_cancelled'],
    ['create_token_order', 403, 'TOKEN_CANCELLED', 'token_cancelled'],
    ['create_token_order', 403, 'TOKEN_FORBIDDEN', 'token_forbidden'],
    ['create_token_order', 403, 'UNAVAILABLE_PAYMENT_METHOD', 'payment_method_unavailable'],
    ['create_token_order', 403, 'PAYMENT_METHOD_CURRENCY_MISMATCH', 'currency_mismatch'],
    ['create_token_order', 403, 'PAYMENT_METHOD_FAILED', 'payment_method_failed'],
    ['create_token_order', 400, 'BAD_REQUEST', 'invalid_request'],
    ['create_token_order', 409, 'BAD_VALUE', 'idempotency_conflict'],
    ['create_token_order', 500, 'INTERNAL_SERVER_ERROR', 'server_error'],
    ['create_token_order', 503, 'SERVICE_UNAVAILABLE', 'server_error'],
    ['create_session', 401, 'UNAUTHORIZED', 'unauthorized'],
    ['create_session', 403, 'MERCHANT_INACTIVE', 'merchant_inactive'],
    ['read_session', 404, 'NOT_FOUND', 'session_not_found'],
    ['read_customer_token', 404, 'NOT_FOUND', 'token_not_found'],
    ['create_session', 429, 'TOO_MANY_REQUESTS', 'rate_limited'],
    ['create_session', 418, 'TEAPOT', 'unexpected_response'],
  ];
  it.each(cases)('%s: HTTP %i %s → %s', (operation, status, code, kind) => {
    expect(classifyKlarnaResponse(operation, status, body(code))).toBe(kind);
  });

  it('recognises the step-up rejection by its step_up_id (seed 000)', () => {
    const error = klarnaErrorFromResponse('create_token_order', 403, body('UNAVAILABLE_PAYMENT_METHOD', { step_up_id: 'su-1', fraud_status: 'REJECTED' }));
    expect(error.kind).toBe('step_up_required');
    expect(error.details.stepUpId).toBe('su-1');
    expect(error.retryable).toBe(false);
  });

  it('retries only transient outcomes', () => {
    const retryable = Object.entries(klarnaErrorKinds).filter(([, v]) => v.retryable).map(([k]) => k).sort();
    expect(retryable).toEqual(['network', 'rate_limited', 'server_error']);
  });

  it('keeps the correlation id from the header when the body is not Klarna-shaped', () => {
    const error = klarnaErrorFromResponse('create_session', 502, '<html>bad gateway</html>', 'hdr-corr');
    expect(error.kind).toBe('server_error');
    expect(error.details.correlationId).toBe('hdr-corr');
    expect(error.details.errorCode).toBeUndefined();
  });

  it('round-trips kinds through Temporal failure types', () => {
    // The failure type is stored in workflow histories: its spelling is fixed.
    expect(klarnaFailureType('token_suspended')).toBe('Klarna.token_suspended');
    for (const kind of Object.keys(klarnaErrorKinds) as KlarnaErrorKind[]) expect(kindFromFailureType(klarnaFailureType(kind)), kind).toBe(kind);
    expect(kindFromFailureType('Klarna.nonsense')).toBeUndefined();
    expect(kindFromFailureType('OtherError')).toBeUndefined();
  });
});
