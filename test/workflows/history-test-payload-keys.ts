import type { PayloadKey } from '../../temporal/payload-codec.js';

// TEST ONLY. The fixed payload key the saved histories in test/workflows/histories/ are
// encrypted with (`npm run histories:capture`), so the replay test can decrypt them. It is public
// (committed) and protects nothing: never use it in development, in a deployment or anywhere a
// real payload is written. `npm run dev` makes its own key in .data/; deployments set
// PAYLOAD_ENCRYPTION_KEYS.
export const HISTORY_TEST_ONLY_PAYLOAD_KEYS: readonly PayloadKey[] = [
  { id: 'test-histories-only-1', key: Buffer.from('PUJKBYBMR1BMddcMdi/opLYeoN3pWIX6Lfpg2eus71s=', 'base64') },
];
