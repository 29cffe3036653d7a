import type { FastifyReply, FastifyRequest } from 'fastify';
import { contextOf } from './context.js';
import type { SimulatorDeps } from './deps.js';
import { KlarnaError, sendKlarnaError } from './errors.js';
import { HOUR } from './state/clock.js';

// `Klarna-Idempotency-Key` on Klarna POST/PATCH calls (klarna-api-facts §2, §5): within 24 h a
// replay of the same request gets the first answer and nothing is processed again; the same key
// with a different request (method, path or body) is 409 BAD_VALUE (assumption, facts §2).
// Like Stripe, an answer is stored only when processing happened: 400s (bad input) and 5xx are
// not stored, so a corrected request or a retry after a 500/503 with the same key is processed.
// A request arriving while the first with its key is still in flight waits for it, then replays.

export const IDEMPOTENCY_TTL_MS = 24 * HOUR;
const HEADER = 'klarna-idempotency-key';

/** JSON with sorted keys, so the same body in another key order is the same request. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

interface Pending {
  storeKey: string;
  key: string;
  fingerprint: string;
  done: () => void;
}
const pendingByRequest = new WeakMap<FastifyRequest, Pending>();

export function createIdempotency(deps: SimulatorDeps) {
  const { store } = deps;
  const inFlight = new Map<string, Promise<void>>();

  /** preValidation, after auth and faults: replay, refuse, or remember the key for onSend. */
  async function before(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    if (request.method !== 'POST' && request.method !== 'PATCH') return undefined;
    if (!request.routeOptions.url) return undefined;
    const header = request.headers[HEADER];
    const key = typeof header === 'string' ? header.trim() : '';
    if (!key) return undefined;
    const storeKey = `${deps.merchant}\u0000${key}`;
    const fingerprint = `${request.method} ${request.url.split('?')[0]} ${canonicalJson(request.body ?? null)}`;

    while (inFlight.has(storeKey)) await inFlight.get(storeKey);

    const previous = store.idempotency.get(storeKey);
    if (previous && store.clock.nowMs() - previous.created_at >= IDEMPOTENCY_TTL_MS) store.idempotency.delete(storeKey);
    else if (previous) {
      if (previous.fingerprint !== fingerprint) {
        return sendKlarnaError(request, reply, new KlarnaError(409, 'BAD_VALUE', ['Klarna-Idempotency-Key was already used with a different request']));
      }
      const ctx = contextOf(request);
      ctx.idempotentReplay = true;
      // The first answer again; an error body gets this response's correlation id, so header and
      // body always agree.
      let body = previous.body;
      if (body && typeof body === 'object' && 'correlation_id' in body) body = { ...body, correlation_id: ctx.correlationId };
      if (body && typeof body === 'object' && 'error_id' in body) body = { ...body, error_id: ctx.correlationId };
      reply.code(previous.status);
      if (body === undefined) return reply.send();
      return reply.type('application/json').send(JSON.stringify(body));
    }

    let done!: () => void;
    inFlight.set(storeKey, new Promise<void>((resolve) => (done = resolve)));
    pendingByRequest.set(request, {
      storeKey,
      key,
      fingerprint,
      done: () => {
        inFlight.delete(storeKey);
        done();
      },
    });
    return undefined;
  }

  /** onSend, with the handler's own answer (before any "after" fault replaces or drops it). */
  function after(request: FastifyRequest, status: number, payload: unknown): void {
    const pending = pendingByRequest.get(request);
    if (!pending) return;
    pendingByRequest.delete(request);
    if (status < 500 && status !== 400) {
      let body: unknown;
      if (typeof payload === 'string' && payload) {
        try {
          body = JSON.parse(payload);
        } catch {
          body = payload;
        }
      }
      store.idempotency.set(pending.storeKey, { key: pending.key, fingerprint: pending.fingerprint, created_at: store.clock.nowMs(), status, body });
    }
    pending.done();
  }

  /** A request that ended without onSend (connection closed) must not block its key. */
  function release(request: FastifyRequest): void {
    const pending = pendingByRequest.get(request);
    if (!pending) return;
    pendingByRequest.delete(request);
    pending.done();
  }

  return { before, after, release };
}
