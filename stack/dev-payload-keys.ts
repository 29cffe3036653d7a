import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { devKeyBytes } from '../config/dev-secrets.js';
import { formatPayloadKeys } from '../temporal/payload-codec.js';

/**
 * `npm run dev`'s PAYLOAD_ENCRYPTION_KEYS: one random key, made on first use and kept in
 * `<dataDir>/dev-payload-encryption-keys` (mode 600) next to the dev server's SQLite file, so the
 * histories it keeps stay readable across runs. Local use only: never a deployment's key (the key
 * carries the development marker of config/dev-secrets.ts and its id starts `dev-`, and production
 * mode refuses both).
 * To try a rotation, put a second `id:key` in front in that file (or set the variable).
 */
export function devPayloadEncryptionKeys(dataDir: string): string {
  const file = join(dataDir, 'dev-payload-encryption-keys');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${formatPayloadKeys([{ id: `dev-${new Date().toISOString().slice(0, 10)}`, key: devKeyBytes() }])}\n`, {
      mode: 0o600,
    });
    chmodSync(file, 0o600);
  }
  return readFileSync(file, 'utf8').trim();
}
