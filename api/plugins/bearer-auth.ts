import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Checkout-facing routes take `Authorization: Bearer <API_AUTH_TOKEN>` when a token is
 * configured (the embedded dev stack runs without one).
 */
export function bearerAuth(expected: string | undefined) {
  const expectedDigest = expected ? digest(expected) : undefined;
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    if (!expectedDigest) return;
    const match = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
    if (!match || !timingSafeEqual(digest(match[1]!), expectedDigest)) {
      throw new ApiError(401, 'unauthorized', 'Missing or wrong bearer token.');
    }
  };
}
