import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { asyncLocalStorage as activityContext } from '@temporalio/activity';
import ky, { HTTPError, TimeoutError, type KyInstance } from 'ky';
import type { z } from 'zod';
import { createTokenOrderResponse, type CreateTokenOrderRequest } from './customer-token-schemas.js';
import { KlarnaApiError, klarnaErrorFromResponse, type KlarnaOperation } from './errors.js';
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

/** The subset of pino's logger the client uses, so tests can pass any compatible logger. */
export interface ClientLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface KlarnaClientOptions {
  baseUrl: string;
  username: string;
  password: string;
  timeoutMs: number;
  logger?: ClientLogger;
  /** For tests: a fetch implementation (defaults to the global one). */
  fetch?: typeof fetch;
}

export interface KlarnaResult<T> {
  body: T;
  correlationId?: string;
}

interface CallSpec<S extends z.ZodType | undefined> {
  operation: KlarnaOperation;
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  /** The path with credentials (authorization and customer tokens) replaced, for logs. */
  logPath: string;
  json?: unknown;
  headers?: Record<string, string>;
  schema: S;
}

const silent: ClientLogger = { info() {}, warn() {} };

// Each call is a span (when tracing is on, temporal/tracing.ts; a no-op otherwise), a child of the
// activity's span. Its attributes identify the call and its flow, never what it carries: the
// operation, the path pattern (`logPath` with every id and token replaced), the idempotency key
// (made by the workflow from the flow id), Klarna's correlation id and the flow id.
const tracer = trace.getTracer('klarna-token-sagas/klarna-client');

/** The flow (workflow id) this call is made for, when it runs in an activity. */
const currentFlowId = () => activityContext.getStore()?.info.workflowExecution?.workflowId;

/**
 * Klarna's HTTP API behind typed calls. No retries here: Temporal retries activities. Every
 * POST/PATCH that creates something takes a `Klarna-Idempotency-Key` made by the workflow, so a
 * retry after a lost reply gets Klarna's original answer instead of a second session or token.
 */
export function createKlarnaClient(options: KlarnaClientOptions) {
  const logger = options.logger ?? silent;
  const http: KyInstance = ky.create({
    prefixUrl: options.baseUrl,
    timeout: options.timeoutMs,
    retry: 0,
    throwHttpErrors: false,
    fetch: options.fetch,
    headers: {
      authorization: `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`,
      'user-agent': 'klarna-token-sagas/0.1',
    },
  });

  function call<S extends z.ZodType | undefined>(spec: CallSpec<S>): Promise<KlarnaResult<S extends z.ZodType ? z.output<S> : undefined>> {
    const flowId = currentFlowId();
    const idempotencyKey = spec.headers?.['Klarna-Idempotency-Key'];
    return tracer.startActiveSpan(
      `klarna ${spec.operation}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'klarna.operation': spec.operation,
          'http.request.method': spec.method.toUpperCase(),
          'url.template': spec.logPath.replace(/\/sessions\/[^/{]+/, '/sessions/{session_id}'),
          ...(flowId ? { 'flow.id': flowId } : {}),
          ...(idempotencyKey ? { 'klarna.idempotency_key': idempotencyKey } : {}),
        },
      },
      async (span) => {
        try {
          return await callTraced(spec, span);
        } finally {
          span.end();
        }
      },
    );
  }

  async function callTraced<S extends z.ZodType | undefined>(
    spec: CallSpec<S>,
    span: Span,
  ): Promise<KlarnaResult<S extends z.ZodType ? z.output<S> : undefined>> {
    const started = Date.now();
    const log = { operation: spec.operation, method: spec.method.toUpperCase(), path: spec.logPath };
    let response: Response;
    try {
      response = await http(spec.path.replace(/^\//, ''), {
        method: spec.method,
        json: spec.json,
        // Passing `headers: undefined` would drop the instance's Authorization header.
        ...(spec.headers ? { headers: spec.headers } : {}),
      });
    } catch (err) {
      const reason = err instanceof TimeoutError ? 'timeout' : err instanceof HTTPError ? 'http' : 'connection';
      logger.warn({ ...log, reason, durationMs: Date.now() - started }, 'klarna call got no answer');
      span.setStatus({ code: SpanStatusCode.ERROR, message: `no answer: ${reason}` });
      throw new KlarnaApiError({ kind: 'network', operation: spec.operation, errorMessages: [reason] });
    }
    const correlationId = response.headers.get('klarna-correlation-id') ?? undefined;
    span.setAttribute('http.response.status_code', response.status);
    if (correlationId) span.setAttribute('klarna.correlation_id', correlationId);
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    const done = { ...log, status: response.status, correlationId, durationMs: Date.now() - started };
    if (!response.ok) {
      const error = klarnaErrorFromResponse(spec.operation, response.status, body, correlationId);
      logger.warn({ ...done, kind: error.kind, errorCode: error.details.errorCode }, 'klarna call failed');
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.kind });
      throw error;
    }
    logger.info(done, 'klarna call succeeded');
    if (!spec.schema) return { body: undefined as never, correlationId };
    const parsed = spec.schema.safeParse(body);
    if (!parsed.success) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'unexpected_response' });
      throw new KlarnaApiError({
        kind: 'unexpected_response',
        operation: spec.operation,
        httpStatus: response.status,
        correlationId,
        errorMessages: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`),
      });
    }
    return { body: parsed.data as never, correlationId };
  }

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
