import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { asyncLocalStorage as activityContext } from '@temporalio/activity';
import ky, { HTTPError, TimeoutError, type KyInstance } from 'ky';
import type { z } from 'zod';
import { KlarnaApiError, type KlarnaOperation } from './errors.js';

// One Klarna HTTP call, the same for the v1 client (klarna/client.ts) and the v2 client
// (klarna/v2-client.ts): they differ only in credentials, error bodies and paths.

/** The subset of pino's logger the clients use, so tests can pass any compatible logger. */
export interface ClientLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface KlarnaResult<T> {
  body: T;
  correlationId?: string;
}

export interface KlarnaCall<S extends z.ZodType | undefined> {
  operation: KlarnaOperation;
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  /** The path with credentials (authorization and customer tokens) replaced, for logs and spans. */
  logPath: string;
  json?: unknown;
  /** Sent, never logged nor traced (v2 headers carry tokens); only the idempotency key is traced. */
  headers?: Record<string, string>;
  /** Parses a 2xx body; undefined: the body is ignored (204/202 answers). */
  schema: S;
}

export type KlarnaCallResult<S extends z.ZodType | undefined> = KlarnaResult<S extends z.ZodType ? z.output<S> : undefined>;

export interface KlarnaTransportOptions {
  baseUrl: string;
  /** The credentials after `Basic ` in the Authorization header, already encoded. */
  basicAuth: string;
  timeoutMs: number;
  logger?: ClientLogger;
  /** For tests: a fetch implementation (defaults to the global one). */
  fetch?: typeof fetch;
  /** The typed error of a non-2xx answer: v1 and v2 error bodies differ. */
  errorFromResponse(operation: KlarnaOperation, httpStatus: number, body: unknown, correlationId?: string): KlarnaApiError;
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
 * A function making Klarna calls: no retries (Temporal retries activities), no HTTP error thrown by
 * ky (non-2xx answers go through `errorFromResponse`), every failure a KlarnaApiError.
 */
export function createKlarnaTransport(options: KlarnaTransportOptions) {
  const logger = options.logger ?? silent;
  const http: KyInstance = ky.create({
    prefixUrl: options.baseUrl,
    timeout: options.timeoutMs,
    retry: 0,
    throwHttpErrors: false,
    fetch: options.fetch,
    headers: { authorization: `Basic ${options.basicAuth}`, 'user-agent': 'klarna-token-sagas/0.1' },
  });

  function call<S extends z.ZodType | undefined>(spec: KlarnaCall<S>): Promise<KlarnaCallResult<S>> {
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

  async function callTraced<S extends z.ZodType | undefined>(spec: KlarnaCall<S>, span: Span): Promise<KlarnaCallResult<S>> {
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
      const error = options.errorFromResponse(spec.operation, response.status, body, correlationId);
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

  return call;
}

export type KlarnaTransport = ReturnType<typeof createKlarnaTransport>;
