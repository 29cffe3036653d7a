import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenVault, maskToken } from '../../persistence/token-vault.js';

describe('token vault', () => {
  const vault = createTokenVault(randomBytes(32));
  const token = '0b1d9815-165e-42e2-8867-35bc03789e00';

  it('seals so the stored form does not contain the token, and opens it back', () => {
    const sealed = vault.seal(token);
    expect(JSON.stringify(sealed)).not.toContain(token);
    expect(JSON.stringify(sealed)).not.toContain('35bc03789e00');
    expect(vault.open(sealed)).toBe(token);
    expect(vault.seal(token).iv).not.toBe(sealed.iv);
  });

  it('refuses a tampered ciphertext', () => {
    const sealed = vault.seal(token);
    const data = Buffer.from(sealed.data, 'base64');
    data[0] = data[0]! ^ 1;
    expect(() => vault.open({ ...sealed, data: data.toString('base64') })).toThrow();
  });

  it('gives a stable reference that depends on the key', () => {
    // token_ref is the stored document's _id: a vault built again from the same key (a restart,
    // another process) must name the token the same way, by the documented derivation
    // (HMAC-SHA256 under an HKDF-SHA256 subkey, info "klarna-token-sagas/ref", 32 hex characters).
    const masterKey = randomBytes(32);
    const refKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'klarna-token-sagas/ref', 32));
    const expected = `ctok_${createHmac('sha256', refKey).update(token).digest('hex').slice(0, 32)}`;
    expect(createTokenVault(masterKey).reference(token)).toBe(expected);
    expect(createTokenVault(Buffer.from(masterKey)).reference(token)).toBe(expected);
    expect(createTokenVault(masterKey).reference(`${token}x`)).not.toBe(expected);
    expect(createTokenVault(randomBytes(32)).reference(token)).not.toBe(expected);
    expect(maskToken(token)).toBe('…9e00');
  });

  it('compares secrets exactly', () => {
    expect(vault.equalSecrets('s3cret-value-123', 's3cret-value-123')).toBe(true);
    expect(vault.equalSecrets('s3cret-value-123', 's3cret-value-124')).toBe(false);
    expect(vault.equalSecrets('', 's3cret-value-123')).toBe(false);
  });
});
