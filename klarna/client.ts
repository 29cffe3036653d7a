import { createTokenOrderResponse, type CreateTokenOrderRequest } from './customer-token-schemas.js';
import { klarnaErrorFromResponse } from './errors.js';
import { createKlarnaTransport, type ClientLogger } from './http-transport.js';
import {
  createCustomerTokenResponse,
  createOrderResponse,
  createHppSessionResponse,
  createSessionResponse,
  customerTokenDetails,
  hppSessionDetails,
  sessionDetails,
  type CreateCustomerTokenRequest,
  type CreateOrderRequest,
  type CreateSessionRequest,
} from './payments-schemas.js';

// Defined with the transport; exported here too, where callers have always found them.
export type { ClientLogger, KlarnaResult } from './http-transport.js';

export interface KlarnaClientOptions {
  baseUrl: string;
  username: string;
  password: string;
  timeoutMs: number;
  logger?: ClientLogger;
  /** For tests: a fetch implementation (defaults to the global one). */
  fetch?: typeof fetch;
}

/**
 * Klarna's HTTP API behind typed calls. No retries here: Temporal retries activities. Every
 * POST/PATCH that creates something takes a `Klarna-Idempotency-Key` made by the workflow, so a
 * retry after a lost reply gets Klarna's original answer instead of a second session or token.
 */
export function createKlarnaClient(options: KlarnaClientOptions) {
  const call = createKlarnaTransport({
    baseUrl: options.baseUrl,
    basicAuth: Buffer.from(`${options.username}:${options.password}`).toString('base64'),
    timeoutMs: options.timeoutMs,
    logger: options.logger,
    fetch: options.fetch,
    errorFromResponse: klarnaErrorFromResponse,
  });

  const enc = encodeURIComponent;
  const idempotency = (key: string) => ({ 'Klarna-Idempotency-Key': key });
  return {
    createSession: (body: CreateSessionRequest, idempotencyKey: string) =>
      call({
        operation: 'create_session',
        method: 'post',
        path: '/payments/v1/sessions',
        logPath: '/payments/v1/sessions',
        json: body,
        headers: idempotency(idempotencyKey),
        schema: createSessionResponse,
      }),

    readSession: (sessionId: string) =>
      call({
        operation: 'read_session',
        method: 'get',
        path: `/payments/v1/sessions/${enc(sessionId)}`,
        logPath: `/payments/v1/sessions/${sessionId}`,
        schema: sessionDetails,
      }),

    createCustomerToken: (authorizationToken: string, body: CreateCustomerTokenRequest, idempotencyKey: string) =>
      call({
        operation: 'create_customer_token',
        method: 'post',
        path: `/payments/v1/authorizations/${enc(authorizationToken)}/customer-token`,
        logPath: '/payments/v1/authorizations/{authorization_token}/customer-token',
        json: body,
        headers: idempotency(idempotencyKey),
        schema: createCustomerTokenResponse,
      }),

    readCustomerToken: (customerToken: string) =>
      call({
        operation: 'read_customer_token',
        method: 'get',
        path: `/customer-token/v1/tokens/${enc(customerToken)}`,
        logPath: '/customer-token/v1/tokens/{customer_token}',
        schema: customerTokenDetails,
      }),

    createTokenOrder: (customerToken: string, body: CreateTokenOrderRequest, idempotencyKey: string) =>
      call({
        operation: 'create_token_order',
        method: 'post',
        path: `/customer-token/v1/tokens/${enc(customerToken)}/order`,
        logPath: '/customer-token/v1/tokens/{customer_token}/order',
        json: body,
        headers: idempotency(idempotencyKey),
        schema: createTokenOrderResponse,
      }),

    /** Cancels the token at Klarna (irreversible); Klarna answers 202. */
    cancelCustomerToken: (customerToken: string, idempotencyKey: string) =>
      call({
        operation: 'cancel_token',
        method: 'patch',
        path: `/customer-token/v1/tokens/${enc(customerToken)}/status`,
        logPath: '/customer-token/v1/tokens/{customer_token}/status',
        json: { status: 'CANCELLED' },
        headers: idempotency(idempotencyKey),
        schema: undefined,
      }),

    /** The order that charges the shopper at checkout, from a (buy or buy_and_tokenize) authorization. */
    createOrder: (authorizationToken: string, body: CreateOrderRequest, idempotencyKey: string) =>
      call({
        operation: 'create_order',
        method: 'post',
        path: `/payments/v1/authorizations/${enc(authorizationToken)}/order`,
        logPath: '/payments/v1/authorizations/{authorization_token}/order',
        json: body,
        headers: idempotency(idempotencyKey),
        schema: createOrderResponse,
      }),

    /** A Hosted Payment Page session for a Klarna Payments session (klarna-api-facts §3). */
    createHppSession: (
      paymentSessionId: string,
      body: { merchant_urls?: Record<string, string>; options?: { place_order_mode?: string } },
      idempotencyKey: string,
    ) =>
      call({
        operation: 'create_hpp_session',
        method: 'post',
        path: '/hpp/v1/sessions',
        logPath: '/hpp/v1/sessions',
        json: { ...body, payment_session_url: `${options.baseUrl.replace(/\/$/, '')}/payments/v1/sessions/${enc(paymentSessionId)}` },
        headers: idempotency(idempotencyKey),
        schema: createHppSessionResponse,
      }),

    readHppSession: (hppSessionId: string) =>
      call({
        operation: 'read_hpp_session',
        method: 'get',
        path: `/hpp/v1/sessions/${enc(hppSessionId)}`,
        logPath: `/hpp/v1/sessions/${hppSessionId}`,
        schema: hppSessionDetails,
      }),

    /** Disables the HPP session (Klarna: 204; 400 once it is final). */
    disableHppSession: (hppSessionId: string) =>
      call({
        operation: 'disable_hpp_session',
        method: 'delete',
        path: `/hpp/v1/sessions/${enc(hppSessionId)}`,
        logPath: `/hpp/v1/sessions/${hppSessionId}`,
        schema: undefined,
      }),

    releaseAuthorization: (authorizationToken: string) =>
      call({
        operation: 'release_authorization',
        method: 'delete',
        path: `/payments/v1/authorizations/${enc(authorizationToken)}`,
        logPath: '/payments/v1/authorizations/{authorization_token}',
        schema: undefined,
      }),
  };
}

export type KlarnaClient = ReturnType<typeof createKlarnaClient>;
