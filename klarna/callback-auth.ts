import { createHmac, timingSafeEqual } from 'node:crypto';

// Klarna does not sign the authorization callback (klarna-api-facts §1), so its URL carries a
// secret. One per flow (HMAC of the flow id under the configured secret): a URL leaked from one
// flow cannot be used to post into another, and nothing needs storing to check it.

export function callbackSecretFor(secret: string, flowId: string): string {
  return createHmac('sha256', secret).update(`authorization-callback:${flowId}`).digest('base64url');
}

/** Constant-time check of a callback URL's secret against the flow's own. */
export function isCallbackSecretValid(secret: string, flowId: string, presented: string): boolean {
  const expected = Buffer.from(callbackSecretFor(secret, flowId));
  const given = Buffer.from(presented);
  // timingSafeEqual needs equal lengths; compare against itself to keep the timing flat.
  return given.length === expected.length ? timingSafeEqual(given, expected) : (timingSafeEqual(expected, expected), false);
}
