import { createHmac, timingSafeEqual } from 'node:crypto';

// Klarna does not sign the authorization callback (klarna-api-facts §1), so its URL carries a
// secret. One per flow (HMAC of the flow id under the configured secret): a URL leaked from one
// flow cannot be used to post into another, and nothing needs storing to check it.

export function callbackSecretFor(secret: string, flowId: string): string {
  return createHmac('sha256', secret).update(`authorization-callback:${flowId}`).digest('base64url');
}

/**
 * Constant-time check of a callback URL's secret against the flow's own. `secret` may list the
 * current configured secret and the previous one (CALLBACK_SECRET_PREVIOUS) during a rotation:
 * a flow started under either authenticates; every candidate is compared (no early exit).
 */
export function isCallbackSecretValid(secret: string | readonly string[], flowId: string, presented: string): boolean {
  const given = Buffer.from(presented);
  let valid = false;
  for (const candidate of typeof secret === 'string' ? [secret] : secret) {
    const expected = Buffer.from(callbackSecretFor(candidate, flowId));
    // timingSafeEqual needs equal lengths; compare against itself to keep the timing flat.
    const match = given.length === expected.length ? timingSafeEqual(given, expected) : (timingSafeEqual(expected, expected), false);
    valid = match || valid;
  }
  return valid;
}
