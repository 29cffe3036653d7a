import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { routeKind, type RouteKind } from '../route-kinds.js';
import { bearerAuth } from './bearer-auth.js';

/** Requests per minute; 0 turns a limit off. */
export interface RateLimits {
  /** Per caller (bearer token; the source address when none is sent) on checkout and codec routes, and per address on /health, /ready and the docs. */
  checkoutPerMinute: number;
  /** Per source address on Klarna's callbacks. */
  callbacksPerMinute: number;
  /** Answers 401 per source address: past it, that address gets 429 on every authenticated route until the minute is over. */
  unauthenticatedPerMinute: number;
}

/** The defaults of RATE_LIMIT_* (config/env.ts): generous for real traffic, tight for guessing secrets. */
export const defaultRateLimits: RateLimits = { checkoutPerMinute: 12_000, callbacksPerMinute: 6_000, unauthenticatedPerMinute: 600 };

export interface HttpGuardOptions {
  /** Bearer tokens accepted on checkout routes; none = open (development). */
  authTokens: readonly string[];
  /** Require the bearer token on /docs and /openapi.json. */
  docsAuth?: boolean;
  /** Require the bearer token on /health and /ready. */
  healthAuth?: boolean;
  /** Undefined: no rate limits (tests, benchmarks, embedding). */
  rateLimits?: RateLimits;
}

const WINDOW_MS = 60_000;
const digest = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 32);
const kindOf = (request: FastifyRequest): RouteKind | undefined => (request.routeOptions.url ? routeKind(request.routeOptions.url) : undefined);

/**
 * What every route gets, whoever wrote it, decided by its kind (api/route-kinds.ts):
 * - rate limits (@fastify/rate-limit, in memory, per process): per caller on checkout routes, per
 *   source on callbacks, and a tight one on failed authentication per source address; 429 with
 *   Retry-After in the API's error shape;
 * - bearer authentication on checkout routes (and on docs and health when asked);
 * - headers: `X-Content-Type-Options: nosniff` on every answer; `Cache-Control: no-store` and a
 *   deny-all Content-Security-Policy on every answer but the docs' static files (answers carry
 *   client tokens, session ids and token references, which no cache should keep).
 * Register before any route: hooks apply to routes added after them.
 */
export async function registerHttpGuard(app: FastifyInstance, options: HttpGuardOptions): Promise<void> {
  const authenticate = bearerAuth(options.authTokens);
  const limits = options.rateLimits;

  if (limits) {
    await app.register(rateLimit, { global: false, cache: 10_000 });
    const callerKey = (request: FastifyRequest) => {
      const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      return bearer ? `caller:${digest(bearer)}` : `address:${request.ip}`;
    };
    const limiters = {
      checkout: limits.checkoutPerMinute ? app.createRateLimit({ max: limits.checkoutPerMinute, timeWindow: WINDOW_MS, keyGenerator: callerKey }) : undefined,
      callbacks: limits.callbacksPerMinute
        ? app.createRateLimit({ max: limits.callbacksPerMinute, timeWindow: WINDOW_MS, keyGenerator: (request) => `source:${request.ip}` })
        : undefined,
      unauthenticated: limits.unauthenticatedPerMinute
        ? app.createRateLimit({ max: limits.unauthenticatedPerMinute, timeWindow: WINDOW_MS, keyGenerator: (request) => `refused:${request.ip}` })
        : undefined,
    };

    app.addHook('onRequest', async (request) => {
      const kind = kindOf(request);
      // A source that keeps failing authentication is stopped everywhere it needs a credential
      // (not on health and docs, so a load balancer's probes from a shared address keep working).
      if (limiters.unauthenticated && kind && kind !== 'health' && kind !== 'docs') {
        const refused = await limiters.unauthenticated(request, { increment: false });
        if (!refused.isAllowed && refused.remaining <= 0) {
          throw new ApiError(429, 'rate_limited', `Too many failed authentications from this address; retry in ${refused.ttlInSeconds} s.`, undefined, {
            'retry-after': String(Math.max(1, refused.ttlInSeconds)),
          });
        }
      }
      const limiter = kind === 'callback' ? limiters.callbacks : limiters.checkout;
      if (!limiter) return;
      const result = await limiter(request);
      if (!result.isAllowed && result.isExceeded) {
        throw new ApiError(429, 'rate_limited', `Too many requests; retry in ${result.ttlInSeconds} s.`, undefined, {
          'retry-after': String(Math.max(1, result.ttlInSeconds)),
        });
      }
    });
    if (limiters.unauthenticated) {
      const count = limiters.unauthenticated;
      app.addHook('onResponse', async (request, reply) => {
        if (reply.statusCode === 401) await count(request);
      });
    }
  }

  app.addHook('onRequest', async (request, reply) => {
    const kind = kindOf(request);
    if (kind === 'checkout' || (kind === 'docs' && options.docsAuth) || (kind === 'health' && options.healthAuth)) {
      await authenticate(request, reply);
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    void reply.header('x-content-type-options', 'nosniff');
    if (!request.url.startsWith('/docs/static/')) {
      void reply.header('cache-control', 'no-store');
      // A page the API serves (the dev-only demo checkout) brings its own, narrower policy.
      if (!request.url.startsWith('/docs') && !reply.hasHeader('content-security-policy')) {
        void reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
      }
    }
    return payload;
  });
}
