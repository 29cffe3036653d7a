import { randomUUID } from 'node:crypto';
import type { Activities } from '../../activities/index.js';
import type { AuthorizationOrder, BuyAndTokenizeInput, BuyAndTokenizeStatus } from '../../contracts/buy-and-tokenize.js';
import { buyAndTokenizeStatusQuery } from '../../workflows/definitions.js';
import { fakeCreatedToken, recordingCalls, tokenizeInput } from './tokenize-workflow-fixtures.js';

// For orchestration-only runs of the buy-and-tokenize workflow (its tests and the capture of
// replay histories): fake activities recording each call and every flow state as it was sent.
// Klarna refusals, the fake token and the bundle come from the tokenize fixtures.

export type FakeBuyAndTokenizeActivities = Pick<
  Activities,
  | 'createPaymentSession'
  | 'createCustomerToken'
  | 'vaultCustomerToken'
  | 'placeAuthorizationOrder'
  | 'recordAuthorizationOrder'
  | 'cancelTokenOfFailedPurchase'
  | 'releaseAuthorizations'
  | 'recordFlowStatus'
  | 'collectPendingAuthorizations'
  | 'markEventsDelivered'
>;

export const fakeOrder: AuthorizationOrder = { order_id: 'order-1', fraud_status: 'ACCEPTED', authorized_payment_method: { type: 'card' }, klarna_correlation_id: 'corr-order' };

export function fakeBuyAndTokenizeActivities(overrides: Partial<FakeBuyAndTokenizeActivities> = {}) {
  const calls: { name: string; args: unknown[] }[] = [];
  const recorded: BuyAndTokenizeStatus[] = [];
  const base: FakeBuyAndTokenizeActivities = {
    async createPaymentSession() {
      return { session_id: 'sess-1', client_token: 'client-token-1' };
    },
    async createCustomerToken() {
      return fakeCreatedToken;
    },
    async vaultCustomerToken(input) {
      return { token_ref: input.created.token_ref, masked: input.created.masked, payment_method_reference: input.created.payment_method_reference };
    },
    async placeAuthorizationOrder() {
      return fakeOrder;
    },
    async recordAuthorizationOrder() {},
    async cancelTokenOfFailedPurchase() {},
    async releaseAuthorizations() {},
    async recordFlowStatus(input) {
      recorded.push(structuredClone(input.status) as BuyAndTokenizeStatus);
    },
    async collectPendingAuthorizations() {
      return [];
    },
    async markEventsDelivered() {},
  };
  const activities = recordingCalls({ ...base, ...overrides }, calls);
  /** The names of the calls made, in order, without the status writes. */
  const steps = () => calls.map((c) => c.name).filter((n) => n !== 'recordFlowStatus');
  const argsOf = (name: string) => calls.filter((c) => c.name === name).map((c) => c.args[0] as Record<string, any>);
  return { activities, calls, recorded, steps, argsOf };
}

export function buyAndTokenizeInput(overrides: Partial<BuyAndTokenizeInput> = {}): BuyAndTokenizeInput {
  const flowId = `buy-and-tokenize-test-${randomUUID()}`;
  return { ...tokenizeInput({ flow_id: flowId, merchant_reference: `order-${flowId.slice(-6)}` }), require_token: true, ...overrides };
}

/** Waits (in real time, polling the query) until the flow shows `state`. */
export async function untilBuyAndTokenizeState(
  handle: { query: (q: typeof buyAndTokenizeStatusQuery) => Promise<BuyAndTokenizeStatus> },
  state: BuyAndTokenizeStatus['state'],
) {
  for (let i = 0; i < 200; i++) {
    const status = await handle.query(buyAndTokenizeStatusQuery);
    if (status.state === state) return status;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`flow never reached ${state}`);
}
