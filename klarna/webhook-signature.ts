import { createHmac, timingSafeEqual } from 'node:crypto';

// Klarna v2 webhooks (facts §4): `Klarna-Signature` is the HMAC-SHA256 of the exact body bytes
// under the signing key that `Klarna-Signing-Key-Id` names (hex; base64 accepted too, as the facts
// sheet marks the encoding as inferred). Several keys are configured during a rotation.

export interface WebhookSigningKey {
  id: string;
  key: string;
}

export type SignatureCheck = 'valid' | 'missing' | 'unknown_key' | 'mismatch';

export function signWebhookBody(raw: string | Buffer, key: string): string {
  return createHmac('sha256', key).update(raw).digest('hex');
}

/**
 * Checks a webhook's signature. The key is the one its id names (no trying every key: a key id we
 * do not have is a configuration problem worth its own log line). The comparison is constant-time
 * over the decoded digests.
 */
export function checkWebhookSignature(
  raw: string | Buffer,
  headers: { keyId?: string; signature?: string },
  keys: readonly WebhookSigningKey[],
): SignatureCheck {
  const signature = headers.signature?.trim();
  const keyId = headers.keyId?.trim();
  if (!signature || !keyId) return 'missing';
  const key = keys.find((k) => k.id === keyId);
  if (!key) return 'unknown_key';
  const expected = createHmac('sha256', key.key).update(raw).digest();
  const given = /^[0-9a-fA-F]{64}$/.test(signature) ? Buffer.from(signature, 'hex') : Buffer.from(signature, 'base64');
  if (given.length !== expected.length) return 'mismatch';
  return timingSafeEqual(given, expected) ? 'valid' : 'mismatch';
}

/** `KLARNA_WEBHOOK_SIGNING_KEYS`: `<key id>:<signing key>,…` (a key may itself contain `:`). */
export function parseSigningKeys(spec: string): { keys: WebhookSigningKey[]; problems: string[] } {
  const keys: WebhookSigningKey[] = [];
  const problems: string[] = [];
  spec
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .forEach((entry, i) => {
      const at = entry.indexOf(':');
      const id = at > 0 ? entry.slice(0, at) : '';
      const key = at > 0 ? entry.slice(at + 1) : '';
      if (!id || key.length < 16) problems.push(`entry ${i + 1} must be <key id>:<signing key of at least 16 characters>`);
      else if (keys.some((k) => k.id === id)) problems.push(`key id ${id} appears twice`);
      else keys.push({ id, key });
    });
  return { keys, problems };
}
