import { randomUUID } from 'node:crypto';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { Activities } from '../../activities/index.js';
import { asTemporalFailure } from '../../activities/klarna-failures.js';
import type { TokenizeStatus } from '../../contracts/flow-status.js';
import type { TokenizeInput } from '../../contracts/tokenize.js';
import { KlarnaApiError, type KlarnaErrorDetails } from '../../klarna/errors.js';
import { workflowsPath } from '../../worker/create-worker.js';
import { tokenizeStatusQuery } from '../../workflows/definitions.js';

// For orchestration-only runs of the tokenize workflow (its tests and the capture of replay
// histories): fake activities that record each call and every flow state as it was sent, Klarna
// refusals shaped by the real error mapping, an input, and the shared waiting and bundling.

export type FakeTokenizeActivities = Pick<
  Activities,
  'createPaymentSession' | 'createCustomerToken' | 'vaultCustomerToken' | 'recordFlowStatus' | 'collectPendingAuthorizations' | 'markEventsDelivered'
>;

export const fakeCreatedToken = {
  token_ref: 'ctok_abc',
  masked: '…9e00',
  sealed_token: { v: 1 as const, iv: 'aXY=', tag: 'dGFn', data: 'ZGF0YQ==' },
  token_last4: '9e00',
  payment_method_reference: 'pm-1',
};

export function fakeTokenizeActivities(overrides: Partial<FakeTokenizeActivities> = {}) {
  const calls: { name: string; args: unknown[] }[] = [];
  const recorded: TokenizeStatus[] = [];
  const base: FakeTokenizeActivities = {
    async createPaymentSession() {
      return { session_id: 'sess-1', client_token: 'client-token-1' };
    },
    async createCustomerToken() {
      return fakeCreatedToken;
    },
    async vaultCustomerToken(input) {
      return { token_ref: input.created.token_ref, masked: input.created.masked, payment_method_reference: input.created.payment_method_reference };
    },
    async recordFlowStatus(input) {
      recorded.push(structuredClone(input.status) as TokenizeStatus);
    },
    async collectPendingAuthorizations() {
      return [];
    },
    async markEventsDelivered() {},
  };
  const activities = recordingCalls({ ...base, ...overrides }, calls);
  return { activities, calls, recorded };
}

/** The fake activities, each recording its call (name and arguments) in `calls` before it runs. */
export function recordingCalls(activities: object, calls: { name: string; args: unknown[] }[]): Record<string, (...args: unknown[]) => unknown> {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      (...args: unknown[]) => {
        calls.push({ name, args });
        return (fn as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  );
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

/**
 * An activity body that fails as a real one does when Klarna refuses: a KlarnaApiError through
 * the activities' own mapping (asTemporalFailure), so retryability follows the taxonomy.
 */
export function klarnaRefusal(details: Pick<KlarnaErrorDetails, 'kind' | 'operation'> & Partial<KlarnaErrorDetails>) {
  return () =>
    asTemporalFailure(async () => {
      throw new KlarnaApiError({ errorMessages: [], ...details });
    });
}

type StatusHandle = { query: (q: typeof tokenizeStatusQuery) => Promise<TokenizeStatus> };

/** Waits (in real time, polling the query) until the flow's status satisfies `done`; throws if it never does. */
export async function untilStatus(handle: StatusHandle, done: (status: TokenizeStatus) => boolean, what: string) {
  let status: TokenizeStatus | undefined;
  for (let i = 0; i < 200; i++) {
    status = await handle.query(tokenizeStatusQuery);
    if (done(status)) return status;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`flow never showed ${what}; last status: ${JSON.stringify(status)}`);
}

/** Waits (in real time, polling the query) until the flow shows `state`. */
export function untilState(handle: StatusHandle, state: TokenizeStatus['state']) {
  return untilStatus(handle, (status) => status.state === state, state);
}

const silent = () => {};

/** The workflow bundle, built without the bundler's progress output. */
export function bundleWorkflows() {
  return bundleWorkflowCode({ workflowsPath, logger: { log: silent, trace: silent, debug: silent, info: silent, warn: silent, error: silent } });
}
