import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { TokenStatusView } from '../contracts/token.js';
import { klarnaCall } from './activity-presets.js';

// Short workflows for what the API asks of a stored token at Klarna. As workflows (not calls from
// the API) so Klarna is only ever called from activities, retried with back-off, and a cancel that
// Klarna did not answer in time still happens: it is durable once started.

const { readTokenStatusAtKlarna, cancelTokenAtKlarna } = proxyActivities<Activities>({ ...klarnaCall, scheduleToCloseTimeout: '5m' });

/** Reads the token's status at Klarna and records it (GET /customer-token/v1/tokens/{t}). */
export async function refreshTokenWorkflow(input: { token_ref: string }): Promise<TokenStatusView> {
  return readTokenStatusAtKlarna(input);
}

/**
 * Cancels the token at Klarna (PATCH …/status CANCELLED, irreversible) and records it; later
 * charges fail fast. The workflow id is `token-cancel-<token_ref>`, so a repeated DELETE is the
 * same cancel, and so is its Klarna-Idempotency-Key.
 */
export async function cancelTokenWorkflow(input: { token_ref: string; idempotency_key: string }): Promise<TokenStatusView> {
  return cancelTokenAtKlarna(input);
}
