import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenVault } from '../../persistence/token-vault.js';

// Rotating TOKEN_ENCRYPTION_KEY without downtime (SECURITY.md): the new key seals, the previous
// keys still open, and the reference key stays, so every stored token_ref keeps naming its token.

describe('token vault key rotation', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const token = 'klarna-customer-token-0123';

  it('opens what the previous key sealed, seals with the new one, and keeps token_refs', () => {
    const before = createTokenVault(oldKey);
    const sealedBefore = before.seal(token);
    const during = createTokenVault(newKey, { previousKeys: [oldKey], referenceKey: oldKey });
    expect(during.openSealed(sealedBefore)).toEqual({ plaintext: token, current: false });
    const resealed = during.seal(token);
    expect(during.openSealed(resealed)).toEqual({ plaintext: token, current: true });
    expect(during.reference(token)).toBe(before.reference(token));
    // Once everything is re-sealed, the previous key can go; the reference key stays.
    const after = createTokenVault(newKey, { referenceKey: oldKey });
    expect(after.open(resealed)).toBe(token);
    expect(() => after.open(sealedBefore)).toThrow();
    expect(after.reference(token)).toBe(before.reference(token));
  });

  it('refuses a key that opens nothing and keys of the wrong size', () => {
    const vault = createTokenVault(newKey, { previousKeys: [randomBytes(32)] });
    expect(() => vault.open(createTokenVault(oldKey).seal(token))).toThrow();
    expect(() => createTokenVault(newKey, { previousKeys: [randomBytes(16)] })).toThrow(/32 bytes/);
  });
});
