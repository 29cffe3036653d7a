import type { FastifyRequest } from 'fastify';

/**
 * Per-request data the simulator keeps beside Fastify's request. A WeakMap rather than
 * `declare module 'fastify'` so the simulator's types never leak into the product's Fastify app.
 */
export interface RequestContext {
  correlationId: string;
  /** Simulator time when the request arrived (ISO). */
  at: string;
  /** The /_sim/requests entry for this request, when it is a Klarna path. */
  record?: RecordedRequest;
  /** Set when a replayed idempotent answer is sent, for the response header. */
  idempotentReplay?: boolean;
  /** The credentials check failed (answered 401 in onRequest). */
  unauthorized?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number | null;
  body: unknown;
  at: string;
  correlation_id: string;
  /** The route pattern, e.g. /payments/v1/sessions/:sessionId. */
  route?: string;
  idempotency_key?: string;
  response?: unknown;
  /** A fault injected on this request, if any ("drop", "status", "latency"). */
  fault?: string;
}

const contexts = new WeakMap<FastifyRequest, RequestContext>();

export function contextOf(request: FastifyRequest): RequestContext {
  let ctx = contexts.get(request);
  if (!ctx) {
    ctx = { correlationId: request.id, at: new Date().toISOString() };
    contexts.set(request, ctx);
  }
  return ctx;
}

export function correlationIdOf(request: FastifyRequest): string {
  return contextOf(request).correlationId;
}
