import { randomBytes } from 'node:crypto';
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
    expect(vault.reference(token)).toBe(vault.reference(token));
    expect(vault.reference(token)).toMatch(/^ctok_[0-9a-f]{32}$/);
    expect(createTokenVault(randomBytes(32)).reference(token)).not.toBe(vault.reference(token));
    expect(maskToken(token)).toBe('…9e00');
  });

  it('compares secrets exactly', () => {
    expect(vault.equalSecrets('s3cret-value-123', 's3cret-value-123')).toBe(true);
    expect(vault.equalSecrets('s3cret-value-123', 's3cret-value-124')).toBe(false);
    expect(vault.equalSecrets('', 's3cret-value-123')).toBe(false);
  });
});
