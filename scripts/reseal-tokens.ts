// `npm run tokens:reseal`: the last step of rotating TOKEN_ENCRYPTION_KEY (SECURITY.md). Re-seals
// every stored customer token that is still sealed under a previous key (TOKEN_ENCRYPTION_KEYS_
// PREVIOUS) with the current one; tokens already under the current key are left alone, so it can
// run again at any time, also while the API and workers run. Reads the same configuration as the
// worker (MONGODB_*, TOKEN_*). Prints how many it re-sealed; exits 1 if a token opens under no key.
import { loadConfigOrExit } from '../config/env.js';
import type { CustomerTokenDocument } from '../persistence/customer-tokens-repository.js';
import { collections, connectMongo } from '../persistence/mongo.js';
import { createTokenVault } from '../persistence/token-vault.js';

const config = loadConfigOrExit(['app', 'mongo', 'vault']);
const vault = createTokenVault(config.vault.encryptionKey, config.vault);
const mongo = await connectMongo(config.mongo);
let resealed = 0;
let current = 0;
const unreadable: string[] = [];
try {
  const tokens = mongo.db.collection<CustomerTokenDocument>(collections.customerTokens);
  for await (const doc of tokens.find({}, { projection: { _id: 1, token: 1 } })) {
    let opened: { plaintext: string; current: boolean };
    try {
      opened = vault.openSealed(doc.token);
    } catch {
      unreadable.push(doc._id);
      continue;
    }
    if (opened.current) {
      current++;
      continue;
    }
    // Only if it is still the sealed value we read: a concurrent writer wins.
    const result = await tokens.updateOne({ _id: doc._id, token: doc.token }, { $set: { token: vault.seal(opened.plaintext), updated_at: new Date() } });
    resealed += result.modifiedCount;
  }
} finally {
  await mongo.close();
}
process.stdout.write(`tokens:reseal: ${resealed} re-sealed under the current key, ${current} already were, ${unreadable.length} open under no configured key\n`);
if (unreadable.length) {
  process.stderr.write(`tokens:reseal: these token_refs open under no configured key: ${unreadable.slice(0, 20).join(', ')}${unreadable.length > 20 ? ', …' : ''}\n`);
  process.exit(1);
}
