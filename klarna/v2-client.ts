import ky, { TimeoutError, type KyInstance } from 'ky';
import type { z } from 'zod';
import type { ClientLogger, KlarnaResult } from './client.js';
import { KlarnaApiError, type KlarnaOperation } from './errors.js';
import { v2ErrorFromResponse } from './v2-errors.js';
import { v2AuthorizeResponse, v2PaymentRequest, type V2AuthorizeRequest, type V2CreatePaymentRequest } from './v2-schemas.js';

export interface KlarnaV2ClientOptions {
  baseUrl: string;
  /** Klarna v2 API key (`klarna_test_api_…`), sent as `Authorization: Basic <key>`; else username:password. */
  apiKey?: string;
  username?: string;
  password?: string;
  /** The acquiring partner's account (`/v2/accounts/{partner_account_id}/payment/authorize`). */
  partnerAccountId: string;
  timeoutMs: number;
  logger?: ClientLogger;
  fetch?: typeof fetch;
}

/** Headers of an authorize call; every value is a credential and is never logged. */
export interface V2AuthorizeHeaders {
  idempotencyKey: string;
  /** Forwarded from the merchant unmodified (seed 002). */
  interoperabilityToken?: string;
  /** Finalizing after a step-up (seed 002/003: valid 1 hour). */
  networkSessionToken?: string;
  /** A token charge (facts §4). */
  customerToken?: string;
}

const silent: ClientLogger = { info() {}, warn() {} };

/**
 * Klarna v2 (Payment Authorize API, Payment Request API) behind typed calls, the same way as the
 * v1 client: no retries here (Temporal retries activities), a `Klarna-Idempotency-Key` made by the
 * workflow on every POST, errors typed by kind (klarna/v2-errors.ts), paths logged as templates.
 */
export function createKlarnaV2Client(options: KlarnaV2ClientOptions) {
  const logger = options.logger ?? silent;
  const basic = options.apiKey ?? Buffer.from(`${options.username ?? ''}:${options.password ?? ''}`).toString('base64');
  const http: KyInstance = ky.create({
    prefixUrl: options.baseUrl,
    timeout: options.timeoutMs,
    retry: 0,
    throwHttpErrors: false,
    fetch: options.fetch,
    headers: { authorization: `Basic ${basic}`, 'user-agent': 'klarna-token-sagas/0.1' },
  });

  async function call<S extends z.ZodType>(spec: {
    operation: KlarnaOperation;
    method: 'get' | 'post' | 'delete';
    path: string;
    logPath: string;
    json?: unknown;
    headers?: Record<string, string>;
    schema: S;
  }): Promise<KlarnaResult<z.output<S>>> {
    const started = Date.now();
    const log = { operation: spec.operation, method: spec.method.toUpperCase(), path: spec.logPath };
    let response: Response;
    try {
      response = await http(spec.path.replace(/^\//, ''), { method: spec.method, json: spec.json, ...(spec.headers ? { headers: spec.headers } : {}) });
    } catch (err) {
      const reason = err instanceof TimeoutError ? 'timeout' : 'connection';
      logger.warn({ ...log, reason, durationMs: Date.now() - started }, 'klarna call got no answer');
      throw new KlarnaApiError({ kind: 'network', operation: spec.operation, errorMessages: [reason] });
    }
    const correlationId = response.headers.get('klarna-correlation-id') ?? undefined;
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    const done = { ...log, status: response.status, correlationId, durationMs: Date.now() - started };
    if (!response.ok) {
      const error = v2ErrorFromResponse(spec.operation, response.status, body, correlationId);
      logger.warn({ ...done, kind: error.kind, errorCode: error.details.errorCode }, 'klarna call failed');
      throw error;
    }
    logger.info(done, 'klarna call succeeded');
    const parsed = spec.schema.safeParse(body);
    if (!parsed.success) {
      throw new KlarnaApiError({
        kind: 'unexpected_response',
        operation: spec.operation,
        httpStatus: response.status,
        correlationId,
        errorMessages: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`),
      });
    }
    return { body: parsed.data, correlationId };
  }

  const enc = encodeURIComponent;
  return {
    /** The Payment Authorize API: token creation, purchase, finalization after step-up, token charge (seed 002). */
    authorize: (body: V2AuthorizeRequest, headers: V2AuthorizeHeaders) =>
      call({
        operation: 'v2_authorize',
        method: 'post',
        path: `/v2/accounts/${enc(options.partnerAccountId)}/payment/authorize`,
        logPath: '/v2/accounts/{partner_account_id}/payment/authorize',
        json: body,
        headers: {
          'Klarna-Idempotency-Key': headers.idempotencyKey,
          ...(headers.interoperabilityToken ? { 'Klarna-Interoperability-Token': headers.interoperabilityToken } : {}),
          ...(headers.networkSessionToken ? { 'Klarna-Network-Session-Token': headers.networkSessionToken } : {}),
          ...(headers.customerToken ? { 'Klarna-Customer-Token': headers.customerToken } : {}),
        },
        schema: v2AuthorizeResponse,
      }),

    createPaymentRequest: (body: V2CreatePaymentRequest, idempotencyKey: string) =>
      call({
        operation: 'v2_create_payment_request',
        method: 'post',
        path: '/v2/payment/requests',
        logPath: '/v2/payment/requests',
        json: body,
        headers: { 'Klarna-Idempotency-Key': idempotencyKey },
        schema: v2PaymentRequest,
      }),

    readPaymentRequest: (paymentRequestId: string) =>
      call({
        operation: 'v2_read_payment_request',
        method: 'get',
        path: `/v2/payment/requests/${enc(paymentRequestId)}`,
        logPath: '/v2/payment/requests/{payment_request_id}',
        schema: v2PaymentRequest,
      }),

    /** Cancels a payment request (Klarna: → CANCELED, state_reason PARTNER_CANCELED). */
    cancelPaymentRequest: (paymentRequestId: string) =>
      call({
        operation: 'v2_cancel_payment_request',
        method: 'delete',
        path: `/v2/payment/requests/${enc(paymentRequestId)}`,
        logPath: '/v2/payment/requests/{payment_request_id}',
        schema: v2PaymentRequest,
      }),
  };
}

export type KlarnaV2Client = ReturnType<typeof createKlarnaV2Client>;
