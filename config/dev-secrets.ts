import { randomBytes } from 'node:crypto';

// The secrets and keys that development setups use, in one place, so production mode
// (config/env.ts) can refuse every one of them. `npm run dev` (scripts/dev-stack.ts) takes its
// fixed values from here and marks the keys it makes; docker-compose.yml's defaults are listed
// here too (test/unit/production-config.test.ts checks that the list covers the file).

/** `npm run dev`'s CALLBACK_SECRET. */
export const DEV_CALLBACK_SECRET = 'dev-callback-secret-not-for-production';

/** `npm run dev`'s Klarna v2 webhook signing key (the simulator signs with it; KLARNA_WEBHOOK_SIGNING_KEYS). */
export const DEV_WEBHOOK_SIGNING_KEY_ID = 'dev-1';
export const DEV_WEBHOOK_SIGNING_KEY = 'dev-webhook-signing-key-not-for-production';

/**
 * The first bytes of every key `npm run dev` makes (TOKEN_ENCRYPTION_KEY in
 * `.data/dev-token-encryption-key`, PAYLOAD_ENCRYPTION_KEYS in `.data/dev-payload-encryption-keys`):
 * the remaining 24 random bytes are plenty for local use, and the marker lets production mode
 * recognise such a key wherever it is copied to.
 */
export const DEV_KEY_MARKER = Buffer.from('kts-dev!', 'latin1');

/** A 32-byte development key: DEV_KEY_MARKER, then random bytes. Never a deployment's key. */
export const devKeyBytes = (): Buffer => Buffer.concat([DEV_KEY_MARKER, randomBytes(32 - DEV_KEY_MARKER.length)]);

/** Payload key ids that name a development key (`npm run dev`: `dev-<date>`; docker compose: `compose-dev-1`). */
export const devPayloadKeyId = /^(dev|compose-dev|test)([-_.]|$)/i;

/** Known development values, by variable: docker-compose.yml's defaults, the simulators' credentials, test-only keys. */
export const knownDevelopmentValues: Readonly<Record<string, readonly string[]>> = {
  CALLBACK_SECRET: [DEV_CALLBACK_SECRET, 'compose-dev-callback-secret'],
  // base64 of "compose-dev-only-key-not-for-use" (docker-compose.yml).
  TOKEN_ENCRYPTION_KEY: ['Y29tcG9zZS1kZXYtb25seS1rZXktbm90LWZvci11c2U='],
  PAYLOAD_ENCRYPTION_KEYS: [
    // docker-compose.yml's compose-dev-1 key.
    'Y29tcG9zZS1kZXYtcGF5bG9hZC1rZXktTk9ULXVzZSE=',
    // test/workflows/history-test-payload-keys.ts: committed, so public.
    'PUJKBYBMR1BMddcMdi/opLYeoN3pWIX6Lfpg2eus71s=',
  ],
  // The Klarna simulator's credentials (npm run dev, docker compose, the tests).
  KLARNA_USERNAME: ['sim-merchant', 'test-merchant'],
  KLARNA_PASSWORD: ['sim-secret', 'test-secret'],
  // npm run dev's v2 webhook signing key (DEV_WEBHOOK_SIGNING_KEY above).
  KLARNA_WEBHOOK_SIGNING_KEYS: [DEV_WEBHOOK_SIGNING_KEY],
};
