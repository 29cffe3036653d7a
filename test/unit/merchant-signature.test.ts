import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signMerchantEvent, verifyMerchantEvent } from '../../klarna/merchant-signature.js';

describe('merchant webhook signatures', () => {
  const body = '{"id":"evt-1","type":"renewal.succeeded"}';
  it('signs t.body with HMAC-SHA256, one v1 per secret (rotation), verifiable with either secret', () => {
    const header = signMerchantEvent(body, ['new-secret-0123456789', 'old-secret-0123456789'], 1_800_000_000);
    const expected = createHmac('sha256', 'new-secret-0123456789').update(`1800000000.${body}`).digest('hex');
    expect(header.split(',')).toEqual(['t=1800000000', `v1=${expected}`, expect.stringMatching(/^v1=[0-9a-f]{64}$/)]);
    expect(verifyMerchantEvent(body, header, 'new-secret-0123456789', 1_800_000_010)).toBe(true);
    expect(verifyMerchantEvent(body, header, 'old-secret-0123456789', 1_800_000_010)).toBe(true);
  });
  it('refuses a tampered body, another secret, and a stale or missing timestamp', () => {
    const header = signMerchantEvent(body, ['new-secret-0123456789'], 1_800_000_000);
    expect(verifyMerchantEvent(`${body} `, header, 'new-secret-0123456789', 1_800_000_000)).toBe(false);
    expect(verifyMerchantEvent(body, header, 'someone-else-012345', 1_800_000_000)).toBe(false);
    expect(verifyMerchantEvent(body, header, 'new-secret-0123456789', 1_800_000_000 + 301)).toBe(false);
    expect(verifyMerchantEvent(body, header.replace(/^t=\d+,/, ''), 'new-secret-0123456789', 1_800_000_000)).toBe(false);
  });
});
