import { describe, expect, it } from 'vitest';
import { checkWebhookSignature, parseSigningKeys, signWebhookBody } from '../../klarna/webhook-signature.js';
import { classifyV2Response } from '../../klarna/v2-errors.js';
import { loadConfig } from '../../config/env.js';
import { DEV_WEBHOOK_SIGNING_KEY } from '../../config/dev-secrets.js';

// Klarna-Signature (facts §4): HMAC-SHA256 of the raw body, key by Klarna-Signing-Key-Id.

const keys = [
  { id: 'new', key: 'new-signing-key-0123456789' },
  { id: 'old', key: 'old-signing-key-0123456789' },
];
const raw = '{"metadata":{"event_id":"e1"},"payload":{"state":"COMPLETED"}}';

describe('v2 webhook signatures', () => {
  it('accepts the signature of the named key (hex or base64), either key during a rotation', () => {
    expect(checkWebhookSignature(raw, { keyId: 'new', signature: signWebhookBody(raw, keys[0]!.key) }, keys)).toBe('valid');
    expect(checkWebhookSignature(raw, { keyId: 'old', signature: signWebhookBody(raw, keys[1]!.key) }, keys)).toBe('valid');
    const base64 = Buffer.from(signWebhookBody(raw, keys[0]!.key), 'hex').toString('base64');
    expect(checkWebhookSignature(raw, { keyId: 'new', signature: base64 }, keys)).toBe('valid');
  });

  it('refuses a missing header, an unknown key id, another key, a changed body, a truncated signature', () => {
    const good = signWebhookBody(raw, keys[0]!.key);
    expect(checkWebhookSignature(raw, { keyId: 'new' }, keys)).toBe('missing');
    expect(checkWebhookSignature(raw, { signature: good }, keys)).toBe('missing');
    expect(checkWebhookSignature(raw, { keyId: 'gone', signature: good }, keys)).toBe('unknown_key');
    expect(checkWebhookSignature(raw, { keyId: 'old', signature: good }, keys)).toBe('mismatch');
    expect(checkWebhookSignature(`${raw} `, { keyId: 'new', signature: good }, keys)).toBe('mismatch');
    expect(checkWebhookSignature(raw, { keyId: 'new', signature: good.slice(0, 40) }, keys)).toBe('mismatch');
    expect(checkWebhookSignature(raw, { keyId: 'new', signature: good }, [])).toBe('unknown_key');
  });

  it('KLARNA_WEBHOOK_SIGNING_KEYS: id:key pairs, keys of at least 16 characters, ids once', () => {
    expect(parseSigningKeys('a:0123456789abcdef, b:key:with:colons-0123').keys).toEqual([
      { id: 'a', key: '0123456789abcdef' },
      { id: 'b', key: 'key:with:colons-0123' },
    ]);
    expect(parseSigningKeys('a:short').problems).toHaveLength(1);
    expect(parseSigningKeys('a:0123456789abcdef,a:0123456789abcdef').problems).toEqual(['key id a appears twice']);
    const config = loadConfig(['klarnaWebhooks'], { KLARNA_WEBHOOK_SIGNING_KEYS: 'k1:0123456789abcdef', KLARNA_WEBHOOK_FALLBACK_READ_AFTER: '30s' });
    expect(config.klarnaWebhooks).toEqual({ signingKeys: [{ id: 'k1', key: '0123456789abcdef' }], fallbackReadAfterMs: 30_000 });
    expect(loadConfig(['klarnaWebhooks'], {}).klarnaWebhooks).toEqual({ signingKeys: [], fallbackReadAfterMs: 15_000 });
    expect(() => loadConfig(['klarnaWebhooks'], { KLARNA_WEBHOOK_SIGNING_KEYS: 'nokey' })).toThrow(/KLARNA_WEBHOOK_SIGNING_KEYS/);
    // Production refuses npm run dev's key.
    const dev = `dev-1:${DEV_WEBHOOK_SIGNING_KEY}`;
    expect(() => loadConfig(['klarnaWebhooks'], { APP_ENV: 'production', KLARNA_WEBHOOK_SIGNING_KEYS: dev })).toThrow(/development key/);
    expect(loadConfig(['klarnaWebhooks'], { APP_ENV: 'development', KLARNA_WEBHOOK_SIGNING_KEYS: dev }).klarnaWebhooks.signingKeys).toHaveLength(1);
  });

  it('v2 error kinds', () => {
    expect(classifyV2Response('v2_authorize', 400, { error_code: 'INVALID_NETWORK_SESSION_TOKEN' })).toBe('network_session_token_invalid');
    expect(classifyV2Response('v2_authorize', 404, { error_code: 'RESOURCE_NOT_FOUND' })).toBe('token_not_found');
    expect(classifyV2Response('v2_read_payment_request', 404, undefined)).toBe('not_found');
    expect(classifyV2Response('v2_create_payment_request', 400, { error_code: 'INVALID_CONTENT' })).toBe('invalid_request');
    expect(classifyV2Response('v2_cancel_payment_request', 409, { error_code: 'INVALID_STATE' })).toBe('invalid_operation');
    expect(classifyV2Response('v2_authorize', 503, undefined)).toBe('server_error');
  });
});
