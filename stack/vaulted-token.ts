import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import { customerTokensRepository } from '../persistence/customer-tokens-repository.js';
import type { TokenVault } from '../persistence/token-vault.js';

/**
 * A customer token made at the Klarna simulator (`POST /_sim/tokens`, SE/SEK) and vaulted as a
 * tokenize flow would have stored it: for what comes after tokenization (charges, subscriptions,
 * step-up) in tests and benchmarks. Returns the vault reference and the raw token (for simulator
 * controls only).
 */
export async function vaultSimulatorToken(simulatorUrl: string, vault: TokenVault, db: Db, label = 'fixture'): Promise<{ tokenRef: string; token: string }> {
  const made = await fetch(`${simulatorUrl}/_sim/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ purchase_country: 'SE', purchase_currency: 'SEK' }),
  });
  const body = (await made.json().catch(() => ({}))) as { token_id?: string };
  if (made.status !== 200 || !body.token_id) throw new Error(`simulator refused to make a token: ${made.status} ${JSON.stringify(body)}`);
  const token = body.token_id;
  const tokenRef = vault.reference(token);
  await customerTokensRepository(db).save({
    _id: tokenRef,
    flow_id: `tokenize-${label}-${randomUUID()}`,
    merchant_reference: label,
    session_id: `${label}-session`,
    token: vault.seal(token),
    token_last4: token.slice(-4),
    status: 'ACTIVE',
    purchase_country: 'SE',
    purchase_currency: 'SEK',
    created_at: new Date(),
  });
  return { tokenRef, token };
}
