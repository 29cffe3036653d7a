import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Customer tokens are credentials: whoever holds one can charge the shopper. At rest they are
 * encrypted (AES-256-GCM); everywhere else (API answers, workflow history, logs) a token is
 * named by its `token_ref`, a keyed hash that reveals nothing and is stable for lookups.
 */
export interface Sealed {
  v: 1;
  iv: string;
  tag: string;
  data: string;
}

export interface TokenVaultKeys {
  /** TOKEN_ENCRYPTION_KEYS_PREVIOUS: keys that only open (during a rotation, until everything is re-sealed). */
  previousKeys?: readonly Buffer[];
  /**
   * TOKEN_REFERENCE_KEY: the key `token_ref`s are derived from; default the encryption key. A
   * rotation keeps it at the old key, so every stored `token_ref` keeps naming its token.
   */
  referenceKey?: Buffer;
}

const derive = (key: Buffer, purpose: 'enc' | 'ref') => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `klarna-token-sagas/${purpose}`, 32));

export function createTokenVault(masterKey: Buffer, keys: TokenVaultKeys = {}) {
  for (const key of [masterKey, ...(keys.previousKeys ?? []), ...(keys.referenceKey ? [keys.referenceKey] : [])]) {
    if (key.length !== 32) throw new Error('token vault key must be 32 bytes');
  }
  // Separate keys for encryption and for references, derived from the configured secrets. The
  // first encryption key seals; each of them opens (a GCM tag only verifies under the right key).
  const encKey = derive(masterKey, 'enc');
  const openKeys = [encKey, ...(keys.previousKeys ?? []).map((key) => derive(key, 'enc'))];
  const refKey = derive(keys.referenceKey ?? masterKey, 'ref');
  const openWithKey = (key: Buffer, sealed: Sealed) => {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8');
  };

  /** Opens with the current key or a previous one; `current` false: re-seal it (scripts/reseal-tokens.ts). */
  function openSealed(sealed: Sealed): { plaintext: string; current: boolean } {
    let lastError: unknown;
    for (const [index, key] of openKeys.entries()) {
      try {
        return { plaintext: openWithKey(key, sealed), current: index === 0 };
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }

  return {
    seal(plaintext: string): Sealed {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', encKey, iv);
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return { v: 1, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
    },
    open(sealed: Sealed): string {
      return openSealed(sealed).plaintext;
    },
    openSealed,
    /** A stable, non-reversible handle for a token: `ctok_` + 32 hex characters. */
    reference(token: string): string {
      return `ctok_${createHmac('sha256', refKey).update(token).digest('hex').slice(0, 32)}`;
    },
    /** Constant-time equality, for comparing secrets such as callback shared secrets. */
    equalSecrets(a: string, b: string): boolean {
      const ha = createHmac('sha256', refKey).update(a).digest();
      const hb = createHmac('sha256', refKey).update(b).digest();
      return timingSafeEqual(ha, hb);
    },
  };
}

export type TokenVault = ReturnType<typeof createTokenVault>;

/** Last four characters only, for people recognising a token (`…9e00`). */
export const maskToken = (token: string) => `…${token.slice(-4)}`;
