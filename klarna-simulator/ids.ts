import { randomUUID } from 'node:crypto';

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/**
 * A client_token shaped like Klarna's (a JWT) so code that splits or stores it behaves as with
 * Klarna. It is not signed with anything meaningful: only the simulator's purchase page reads it.
 */
export function makeClientToken(sessionId: string, issuedAtMs: number): string {
  const header = { alg: 'none', typ: 'JWT', kid: 'klarna-simulator' };
  const payload = { session_id: sessionId, base_url: 'https://js.playground.klarna.com/eu/kp/legacy/payments', iat: Math.floor(issuedAtMs / 1000) };
  return `${b64url(header)}.${b64url(payload)}.${Buffer.from(randomUUID()).toString('base64url')}`;
}

export const newId = () => randomUUID();
