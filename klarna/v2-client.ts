import { createKlarnaTransport, type ClientLogger } from './http-transport.js';
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

/**
 * Klarna v2 (Payment Authorize API, Payment Request API) behind typed calls, the same way as the
 * v1 client: no retries here (Temporal retries activities), a `Klarna-Idempotency-Key` made by the
 * workflow on every POST, errors typed by kind (klarna/v2-errors.ts), paths logged as templates,
 * each call a span (klarna/http-transport.ts). Its headers' tokens reach neither logs nor spans.
 */
export function createKlarnaV2Client(options: KlarnaV2ClientOptions) {
  const call = createKlarnaTransport({
    baseUrl: options.baseUrl,
    basicAuth: options.apiKey ?? Buffer.from(`${options.username ?? ''}:${options.password ?? ''}`).toString('base64'),
    timeoutMs: options.timeoutMs,
    logger: options.logger,
    fetch: options.fetch,
    errorFromResponse: v2ErrorFromResponse,
  });

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
