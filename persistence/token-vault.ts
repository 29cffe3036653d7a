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

export function createTokenVault(masterKey: Buffer) {
  if (masterKey.length !== 32) throw new Error('token vault key must be 32 bytes');
  // Separate keys for encryption and for references, derived from the one configured secret.
  const encKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'klarna-token-sagas/enc', 32));
  const refKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'klarna-token-sagas/ref', 32));

  return {
    seal(plaintext: string): Sealed {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', encKey, iv);
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return { v: 1, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
    },
    open(sealed: Sealed): string {
      const decipher = createDecipheriv('aes-256-gcm', encKey, Buffer.from(sealed.iv, 'base64'));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8');
    },
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
