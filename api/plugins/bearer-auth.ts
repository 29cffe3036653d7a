import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Checkout-facing routes take `Authorization: Bearer <token>` when tokens are configured
 * (API_AUTH_TOKEN and/or API_AUTH_TOKENS; the embedded dev stack runs without). Any configured
 * token is accepted, so a new one can be rolled out before the old one is removed (SECURITY.md).
 * Compared as SHA-256 digests in constant time, against every token (no early exit), so neither a
 * token's length nor which token matched shows in the timing.
 */
export function bearerAuth(expected: string | readonly string[] | undefined) {
  const tokens = (typeof expected === 'string' ? [expected] : (expected ?? [])).filter(Boolean);
  const expectedDigests = tokens.map(digest);
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    if (!expectedDigests.length) return;
    const match = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
    const presented = digest(match?.[1] ?? '');
    let ok = false;
    for (const candidate of expectedDigests) ok = timingSafeEqual(presented, candidate) || ok;
    if (!match || !ok) {
      throw new ApiError(401, 'unauthorized', 'Missing or wrong bearer token.', undefined, { 'www-authenticate': 'Bearer' });
    }
  };
}
