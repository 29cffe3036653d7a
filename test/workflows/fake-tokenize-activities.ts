import { randomUUID } from 'node:crypto';
import type { Activities } from '../../activities/index.js';
import type { TokenizeStatus } from '../../contracts/flow-status.js';
import type { TokenizeInput } from '../../contracts/tokenize.js';

// Fakes for orchestration-only runs of the tokenize workflow (its tests and the capture of replay
// histories): each call is recorded, and every recorded flow state is kept as it was sent.

export type FakeTokenizeActivities = Pick<Activities, 'createPaymentSession' | 'createAndVaultCustomerToken' | 'recordFlowState'>;

export function fakeTokenizeActivities(overrides: Partial<FakeTokenizeActivities> = {}) {
  const calls: { name: string; args: unknown[] }[] = [];
  const recorded: TokenizeStatus[] = [];
  const base: FakeTokenizeActivities = {
    async createPaymentSession() {
      return { session_id: 'sess-1', client_token: 'client-token-1' };
    },
    async createAndVaultCustomerToken() {
      return { token_ref: 'ctok_abc', masked: '…9e00', payment_method_reference: 'pm-1' };
    },
    async recordFlowState(status) {
      recorded.push(structuredClone(status));
    },
  };
  const activities = Object.fromEntries(
    Object.entries({ ...base, ...overrides }).map(([name, fn]) => [
      name,
      (...args: unknown[]) => {
        calls.push({ name, args });
        return (fn as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  );
  return { activities, calls, recorded };
}

export function tokenizeInput(overrides: Partial<TokenizeInput> = {}): TokenizeInput {
  const flowId = `tokenize-test-${randomUUID()}`;
  return {
    flow_id: flowId,
    merchant_reference: `order-${flowId.slice(-6)}`,
    session: {
      purchase_country: 'SE',
      purchase_currency: 'SEK',
      locale: 'sv-SE',
      order_amount: 1000,
      order_lines: [{ name: 'Coffee subscription', quantity: 1, unit_price: 1000, total_amount: 1000 }],
    },
    token_description: 'Coffee subscription',
    abandonment_timeout_ms: 30 * 60_000,
    ...overrides,
  };
}
