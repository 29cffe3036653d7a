import { createHmac, timingSafeEqual } from 'node:crypto';

// Signatures on our outbound webhooks, Stripe-style: header
//   Klarna-Token-Sagas-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>[,v1=…]
// One v1 per configured secret (the first is current; older ones are kept during a rotation), so
// a receiver that knows either secret verifies, and no delivery fails while secrets rotate.

export const SIGNATURE_HEADER = 'klarna-token-sagas-signature';

export function signMerchantEvent(body: string, secrets: readonly string[], atSeconds: number): string {
  const signatures = secrets.map((secret) => `v1=${createHmac('sha256', secret).update(`${atSeconds}.${body}`).digest('hex')}`);
  return [`t=${atSeconds}`, ...signatures].join(',');
}

/** For receivers (and tests): true when one v1 matches `secret` and t is within `toleranceSeconds`. */
export function verifyMerchantEvent(body: string, header: string, secret: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const parts = header.split(',').map((p) => p.trim());
  const t = Number(parts.find((p) => p.startsWith('t='))?.slice(2));
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  return parts
    .filter((p) => p.startsWith('v1='))
    .some((p) => {
      const given = Buffer.from(p.slice(3));
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}
