import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import type { Activities } from '../../activities/index.js';
import type { V2AuthorizeOutcome, V2PaymentRequestSnapshot } from '../../activities/v2-activities.js';
import type { V2AuthorizeInput, V2AuthorizeStatus, V2PaymentRequestInput, V2PaymentRequestStatus } from '../../contracts/v2.js';
import { createEncryptionCodec, encryptingDataConverter, ephemeralPayloadKeys } from '../../temporal/payload-codec.js';
import { v2AuthorizeStatusQuery, v2PaymentRequestEventSignal } from '../../workflows/definitions.js';
import { useTimeSkippingEnvironment } from './time-skipping-environment.js';
import { klarnaRefusal, recordingCalls } from './tokenize-workflow-fixtures.js';

// The v2 workflows' timers on the time-skipping test server, with fake activities: the network
// session token's hour, the payment request's expiry (with reads backing off), the order of
// webhook events, and that a decline is never replayed.

type V2Fakes = Pick<
  Activities,
  | 'authorizeV2'
  | 'createV2PaymentRequest'
  | 'readV2PaymentRequest'
  | 'v2WebhookCompletion'
  | 'collectV2PaymentRequestEvents'
  | 'markEventsDelivered'
  | 'storeV2CustomerToken'
  | 'storeV2NetworkSession'
  | 'recordFlowStatus'
>;

const dataConverter = encryptingDataConverter(createEncryptionCodec(ephemeralPayloadKeys()));
const suite = useTimeSkippingEnvironment(dataConverter);

/** Workflow time as the activities see it (the test server skips time). */
const serverNow = () => Context.current().info.currentAttemptScheduledTimestampMs;
const sealed = { v: 1 as const, iv: 'aXY=', tag: 'dGFn', data: 'ZGF0YQ==' };
const vaulted = { token_ref: 'ctok_0123456789abcdef0123456789abcdef', masked: '…abcd', last4: 'abcd', sealed };

function fakes(overrides: Partial<V2Fakes> = {}) {
  const calls: { name: string; args: unknown[] }[] = [];
  const base: V2Fakes = {
    async authorizeV2(input) {
      if (input.network_session_token) return { payment: { result: 'APPROVED', payment_transaction_id: 'tx-1' }, token: { result: 'APPROVED', token: vaulted } };
      return {
        payment: { result: 'STEP_UP_REQUIRED' },
        token: { result: 'STEP_UP_REQUIRED' },
        payment_request: { payment_request_id: 'pr-1', payment_request_url: 'https://pay.example/pr-1', state: 'SUBMITTED', expires_at: new Date(serverNow() + 3 * 3_600_000).toISOString() },
      } satisfies V2AuthorizeOutcome;
    },
    async createV2PaymentRequest() {
      return { payment_request_id: 'pr-1', payment_request_url: 'https://pay.example/pr-1', state: 'SUBMITTED', expires_at: new Date(serverNow() + 3 * 3_600_000).toISOString() };
    },
    async readV2PaymentRequest() {
      return { payment_request_id: 'pr-1', state: 'SUBMITTED' };
    },
    async v2WebhookCompletion() {
      return { source: 'webhook' as const, completed_at: new Date(serverNow()).toISOString(), network_session_token: sealed, customer_token: vaulted };
    },
    async collectV2PaymentRequestEvents() {
      return [];
    },
    async markEventsDelivered() {},
    async storeV2CustomerToken() {},
    async storeV2NetworkSession() {},
    async recordFlowStatus() {},
  };
  const activities = recordingCalls({ ...base, ...overrides }, calls);
  return { activities, calls, count: (name: string) => calls.filter((c) => c.name === name).length };
}

const authorizeInput = (overrides: Partial<V2AuthorizeInput> = {}): V2AuthorizeInput => ({
  flow_id: `v2-authorize-test-${randomUUID()}`,
  flow_type: 'v2_authorize',
  merchant_reference: 'order-1',
  currency: 'USD',
  payment: { amount: 999 },
  token: { scopes: ['payment:customer_not_present'] },
  step_up_allowed: true,
  retry_deadline_ms: 10 * 60_000,
  fallback_read_after_ms: 15_000,
  decline_context: 'ctx',
  ...overrides,
});

const paymentRequestInput = (): V2PaymentRequestInput => ({
  flow_id: `v2-payreq-test-${randomUUID()}`,
  merchant_reference: 'websdk-1',
  currency: 'USD',
  token: { scopes: ['payment:customer_present'] },
  fallback_read_after_ms: 15_000,
});

type Handle = Awaited<ReturnType<typeof suite.env.client.workflow.start>>;

async function run<T>(workflowType: string, activities: object, input: { flow_id: string }, act: (handle: Handle) => Promise<void> = async () => {}): Promise<T> {
  const taskQueue = `tq-${randomUUID()}`;
  const worker = await Worker.create({ connection: suite.env.nativeConnection, taskQueue, workflowBundle: suite.bundle, activities, dataConverter });
  return worker.runUntil(async () => {
    const handle = await suite.env.client.workflow.start(workflowType, { taskQueue, workflowId: input.flow_id, args: [input] });
    await act(handle);
    return (await handle.result()) as T;
  });
}

/** Waits in real time (query polling) until the authorize flow waits for the shopper. */
async function untilAwaitingShopper(handle: Handle) {
  for (let i = 0; i < 200; i++) {
    const status = await handle.query(v2AuthorizeStatusQuery);
    if (status.state === 'AWAITING_SHOPPER') return status;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('never awaited the shopper');
}

describe('v2 authorize workflow, the network session token’s hour', () => {
  it('finalizes with the sealed network session token after the completed webhook', async () => {
    const fake = fakes();
    const result = await run<V2AuthorizeStatus>('v2AuthorizeWorkflow', fake.activities, authorizeInput(), async (handle) => {
      await untilAwaitingShopper(handle);
      await handle.signal(v2PaymentRequestEventSignal, { event_id: 'e1', payment_request_id: 'pr-1', state: 'COMPLETED', occurred_at: '2026-01-01T00:00:02Z' });
    });
    expect(result).toMatchObject({ state: 'COMPLETED', payment: { result: 'APPROVED', payment_transaction_id: 'tx-1' }, customer_token: { result: 'APPROVED', token_ref: vaulted.token_ref } });
    const finalize = fake.calls.filter((c) => c.name === 'authorizeV2')[1]!.args[0] as { network_session_token?: unknown; request: Record<string, unknown> };
    expect(finalize.network_session_token).toEqual(sealed);
    expect(finalize.request).toMatchObject({ request_payment_transaction: { amount: 999 }, request_customer_token: { scopes: ['payment:customer_not_present'] } });
  });

  it('ends EXPIRED when Klarna stays unavailable until the hour after completion is over', async () => {
    const fake = fakes({
      async authorizeV2(input) {
        if (input.network_session_token) return klarnaRefusal({ kind: 'server_error', operation: 'v2_authorize', httpStatus: 503 })();
        return fakes().activities.authorizeV2!(input) as Promise<V2AuthorizeOutcome>;
      },
    });
    const result = await run<V2AuthorizeStatus>('v2AuthorizeWorkflow', fake.activities, authorizeInput(), async (handle) => {
      await untilAwaitingShopper(handle);
      await handle.signal(v2PaymentRequestEventSignal, { event_id: 'e1', payment_request_id: 'pr-1', state: 'COMPLETED' });
    });
    expect(result).toMatchObject({
      state: 'EXPIRED',
      payment: { result: 'EXPIRED', reason: 'network_session_token_expired' },
      customer_token: { result: 'EXPIRED', reason: 'network_session_token_expired' },
      failure: { kind: 'payment_expired' },
    });
    // Retried (workflow time) for about the hour, not longer.
    const spent = Date.parse(result.updated_at) - Date.parse(result.started_at);
    expect(spent).toBeGreaterThanOrEqual(58 * 60_000);
    expect(spent).toBeLessThanOrEqual(62 * 60_000);
    expect(fake.count('authorizeV2')).toBeGreaterThan(3);
  });

  it('does not try to finalize with a token whose hour has passed', async () => {
    const fake = fakes({
      async v2WebhookCompletion() {
        return { source: 'webhook' as const, completed_at: new Date(serverNow() - 61 * 60_000).toISOString(), network_session_token: sealed };
      },
    });
    const result = await run<V2AuthorizeStatus>('v2AuthorizeWorkflow', fake.activities, authorizeInput(), async (handle) => {
      await untilAwaitingShopper(handle);
      await handle.signal(v2PaymentRequestEventSignal, { event_id: 'e1', payment_request_id: 'pr-1', state: 'COMPLETED' });
    });
    expect(result).toMatchObject({ state: 'EXPIRED', payment: { reason: 'network_session_token_expired' } });
    expect(fake.count('authorizeV2')).toBe(1);
  });
});

describe('v2 workflows, the payment request’s expiry', () => {
  it('authorize: no webhook and reads saying SUBMITTED until Klarna says EXPIRED after 3 h; reads back off', async () => {
    let expiresAt = 0;
    const fake = fakes({
      async authorizeV2() {
        expiresAt = serverNow() + 3 * 3_600_000;
        return {
          payment: { result: 'STEP_UP_REQUIRED' },
          token: { result: 'STEP_UP_REQUIRED' },
          payment_request: { payment_request_id: 'pr-1', state: 'SUBMITTED', expires_at: new Date(expiresAt).toISOString() },
        };
      },
      async readV2PaymentRequest(): Promise<V2PaymentRequestSnapshot> {
        return { payment_request_id: 'pr-1', state: serverNow() >= expiresAt ? 'EXPIRED' : 'SUBMITTED' };
      },
    });
    const result = await run<V2AuthorizeStatus>('v2AuthorizeWorkflow', fake.activities, authorizeInput());
    expect(result).toMatchObject({ state: 'EXPIRED', payment_request: { state: 'EXPIRED', completed_by: 'read' }, payment: { result: 'EXPIRED', reason: 'payment_request_expired' } });
    const spent = Date.parse(result.updated_at) - Date.parse(result.started_at);
    expect(spent).toBeGreaterThanOrEqual(3 * 3_600_000);
    expect(spent).toBeLessThan(3 * 3_600_000 + 5 * 60_000);
    // 15 s doubling to every 5 minutes: about 40 reads in 3 hours, not one per second.
    expect(fake.count('readV2PaymentRequest')).toBeGreaterThan(30);
    expect(fake.count('readV2PaymentRequest')).toBeLessThan(50);
    expect(fake.count('authorizeV2')).toBe(1);
  });

  it('payment request flow: Klarna never says anything final; the flow ends EXPIRED at the expiry plus grace', async () => {
    const fake = fakes({
      async readV2PaymentRequest() {
        throw new Error('Klarna unreachable');
      },
    });
    const result = await run<V2PaymentRequestStatus>('v2PaymentRequestWorkflow', fake.activities, paymentRequestInput());
    expect(result).toMatchObject({ state: 'EXPIRED', failure: { kind: 'payment_request_expired' } });
    const spent = Date.parse(result.updated_at) - Date.parse(result.started_at);
    expect(spent).toBeGreaterThanOrEqual(3 * 3_600_000 + 5 * 60_000);
    expect(spent).toBeLessThan(3 * 3_600_000 + 15 * 60_000);
    expect(fake.count('storeV2CustomerToken')).toBe(0);
  });

  it('payment request flow: events collected from the inbox are applied in state order and the token stored', async () => {
    let checks = 0;
    const fake = fakes({
      async collectV2PaymentRequestEvents() {
        checks += 1;
        // Arrival order: completed first, then the older ones.
        return checks === 1
          ? []
          : [
              { event_id: 'c', payment_request_id: 'pr-1', state: 'COMPLETED', occurred_at: '2026-01-01T00:00:03Z' },
              { event_id: 'b', payment_request_id: 'pr-1', state: 'IN_PROGRESS', occurred_at: '2026-01-01T00:00:02Z' },
              { event_id: 'x', payment_request_id: 'pr-other', state: 'COMPLETED', occurred_at: '2026-01-01T00:00:01Z' },
            ];
      },
    });
    const result = await run<V2PaymentRequestStatus>('v2PaymentRequestWorkflow', fake.activities, paymentRequestInput());
    expect(result).toMatchObject({ state: 'COMPLETED', payment_request: { state: 'COMPLETED', completed_by: 'webhook' }, customer_token: { result: 'APPROVED', token_ref: vaulted.token_ref }, network_session: { expires_at: expect.any(String) } });
    expect(result.ignored_events).toBe(1);
    expect(fake.calls.find((c) => c.name === 'markEventsDelivered')!.args[0]).toEqual({ event_ids: ['c', 'b', 'x'] });
    expect(fake.count('readV2PaymentRequest')).toBe(0);
    expect(fake.count('storeV2NetworkSession')).toBe(1);
  });
});

describe('v2 authorize workflow, declines', () => {
  it('a DECLINED answer is final: one call, no retry, no payment request', async () => {
    const fake = fakes({
      async authorizeV2() {
        return { payment: { result: 'DECLINED' }, token: { result: 'DECLINED' } };
      },
    });
    const result = await run<V2AuthorizeStatus>('v2AuthorizeWorkflow', fake.activities, authorizeInput());
    expect(result).toMatchObject({ state: 'DECLINED', decline_context: 'ctx', next_action: 'none' });
    expect(fake.count('authorizeV2')).toBe(1);
    expect(fake.count('readV2PaymentRequest')).toBe(0);
  });

  it('a charge without the shopper cannot step up: FAILED, and no step_up_config is sent', async () => {
    const fake = fakes({
      async authorizeV2() {
        return { payment: { result: 'STEP_UP_REQUIRED' }, payment_request: { payment_request_id: 'pr-1', state: 'SUBMITTED' } };
      },
    });
    const input = authorizeInput({ flow_type: 'v2_charge', flow_id: `v2-charge-${randomUUID()}`, token: undefined, charge: { token_ref: vaulted.token_ref, customer_present: false }, step_up_allowed: false });
    const result = await run<V2AuthorizeStatus>('v2AuthorizeWorkflow', fake.activities, input);
    expect(result).toMatchObject({ state: 'FAILED', payment: { result: 'FAILED', reason: expect.stringContaining('step_up_not_possible') } });
    const call = fake.calls[0]!.args[0] as { request: Record<string, unknown>; idempotency_key: string; charge: unknown };
    expect(call.request.step_up_config).toBeUndefined();
    expect(call.idempotency_key).toBe(input.flow_id);
    expect(call.charge).toEqual({ token_ref: vaulted.token_ref, customer_present: false });
  });
});
