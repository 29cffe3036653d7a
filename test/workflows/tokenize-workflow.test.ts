import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import type { TokenizeStatus } from '../../contracts/flow-status.js';
import { createEncryptionCodec, encryptingDataConverter, ephemeralPayloadKeys } from '../../temporal/payload-codec.js';
import { shopperAuthorizedSignal, tokenizeStatusQuery } from '../../workflows/definitions.js';
import { useTimeSkippingEnvironment } from './time-skipping-environment.js';
import { fakeCreatedToken, fakeTokenizeActivities, klarnaRefusal, tokenizeInput, untilState, untilStatus } from './tokenize-workflow-fixtures.js';

// Orchestration only: the activities are fakes recording their calls; time is skipped by the
// Temporal test server, so 30-minute and 60-minute timers take milliseconds.

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// As in production: every payload (input, signals, queries, results) goes through the encrypting codec.
const dataConverter = encryptingDataConverter(createEncryptionCodec(ephemeralPayloadKeys()));
const suite = useTimeSkippingEnvironment(dataConverter);

async function withWorker<T>(activities: object, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `tq-${randomUUID()}`;
  const worker = await Worker.create({ connection: suite.env.nativeConnection, taskQueue, workflowBundle: suite.bundle, activities, dataConverter });
  return worker.runUntil(fn(taskQueue));
}

/** Starts a flow, authorizes it once from `source` when it waits for that, and returns its result. */
function authorizedFlow(activities: object, source: 'checkout' | 'klarna_callback'): Promise<TokenizeStatus> {
  return withWorker(activities, async (taskQueue) => {
    const args = tokenizeInput();
    const handle = await suite.env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
    await untilState(handle, 'AWAITING_AUTHORIZATION');
    await handle.signal(shopperAuthorizedSignal, { authorization_token: 'auth-1', source });
    return (await handle.result()) as TokenizeStatus;
  });
}

describe('tokenize workflow', () => {
  it('completes with the first authorization and ignores duplicates from the checkout and Klarna', async () => {
    const fake = fakeTokenizeActivities();
    const result = await withWorker(fake.activities, async (taskQueue) => {
      const args = tokenizeInput();
      const handle = await suite.env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
      await untilState(handle, 'AWAITING_AUTHORIZATION');
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'auth-1', session_id: 'sess-1', source: 'checkout' });
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'auth-1', session_id: 'sess-1', source: 'klarna_callback' });
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'auth-2', session_id: 'sess-1', source: 'klarna_callback' });
      return (await handle.result()) as TokenizeStatus;
    });
    expect(result.state).toBe('COMPLETED');
    expect(result.customer_token).toEqual({ token_ref: 'ctok_abc', masked: '…9e00', payment_method_reference: 'pm-1' });
    expect(result.authorization?.source).toBe('checkout');
    expect(result.ignored_authorizations).toBe(2);
    const tokenCalls = fake.calls.filter((c) => c.name === 'createCustomerToken');
    expect(tokenCalls).toHaveLength(1);
    expect(tokenCalls[0]!.args[0]).toMatchObject({ authorization_token: 'auth-1', description: 'Coffee subscription', idempotency_key: expect.stringMatching(uuid) });
    expect(fake.calls[0]).toMatchObject({ name: 'createPaymentSession', args: [{ intent: 'tokenize', idempotency_key: expect.stringMatching(uuid) }] });
    const sessionKey = (fake.calls[0]!.args[0] as { idempotency_key: string }).idempotency_key;
    expect((tokenCalls[0]!.args[0] as { idempotency_key: string }).idempotency_key, 'one key per step').not.toBe(sessionKey);
    expect(fake.calls.filter((c) => c.name === 'vaultCustomerToken').map((c) => c.args[0])).toEqual([
      expect.objectContaining({ session_id: 'sess-1', created: fakeCreatedToken }),
    ]);
    expect(fake.recorded.map((s) => s.state)).toEqual(['AWAITING_AUTHORIZATION', 'COMPLETED']);
  });

  it('retries a Klarna token call that got no answer with the same idempotency key', async () => {
    const keys: string[] = [];
    const fake = fakeTokenizeActivities({
      async createCustomerToken(input) {
        keys.push(input.idempotency_key);
        // The first attempt's reply is lost (a timeout): Temporal retries the activity.
        if (keys.length === 1) return klarnaRefusal({ kind: 'network', operation: 'create_customer_token' })();
        return fakeCreatedToken;
      },
    });
    const status = await authorizedFlow(fake.activities, 'klarna_callback');
    expect(status.state).toBe('COMPLETED');
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
  });

  it('sets aside a checkout authorization Klarna does not know and completes with the real one', async () => {
    const tried: { token: string; key: string }[] = [];
    const fake = fakeTokenizeActivities({
      async createCustomerToken(input) {
        tried.push({ token: input.authorization_token, key: input.idempotency_key });
        if (input.authorization_token === 'bogus') {
          return klarnaRefusal({ kind: 'authorization_not_found', operation: 'create_customer_token', httpStatus: 404, errorCode: 'NOT_FOUND' })();
        }
        return fakeCreatedToken;
      },
    });
    const status = await withWorker(fake.activities, async (taskQueue) => {
      const args = tokenizeInput();
      const handle = await suite.env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
      await untilState(handle, 'AWAITING_AUTHORIZATION');
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'bogus', session_id: 'sess-1', source: 'checkout' });
      // Back to waiting once Klarna refused the bogus one, with the rejection counted (fails when
      // the flow never counts it, instead of going on after a while as if it had).
      const between = await untilStatus(handle, (s) => s.rejected_authorizations === 1, 'the rejection counted');
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'auth-1', session_id: 'sess-1', source: 'klarna_callback' });
      return { between, final: (await handle.result()) as TokenizeStatus };
    });
    expect(status.between).toMatchObject({ state: 'AWAITING_AUTHORIZATION', rejected_authorizations: 1, ignored_authorizations: 0 });
    expect(status.between.authorization).toBeUndefined();
    expect(status.final.state).toBe('COMPLETED');
    expect(status.final.rejected_authorizations).toBe(1);
    expect(status.final.authorization?.source).toBe('klarna_callback');
    expect(tried.map((t) => t.token)).toEqual(['bogus', 'auth-1']);
    expect(tried[0]!.key).not.toBe(tried[1]!.key);
  });

  it('collects an authorization from the inbox when no signal reached it, and marks the event delivered', async () => {
    let checks = 0;
    const fake = fakeTokenizeActivities({
      async collectPendingAuthorizations() {
        checks += 1;
        // Stored by the API, never signalled (the API's own tries and sweeps failed): found at the first look.
        return [{ authorization_token: 'auth-1', session_id: 'sess-1', source: 'klarna_callback' as const, event_id: 'auth_evt1' }];
      },
    });
    const status = await withWorker(fake.activities, async (taskQueue) => {
      const args = tokenizeInput();
      const handle = await suite.env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
      return (await handle.result()) as TokenizeStatus;
    });
    expect(status.state).toBe('COMPLETED');
    expect(status.authorization?.source).toBe('klarna_callback');
    expect(checks).toBe(1);
    // The first look comes 10 minutes in (patch inbox-check-rare), in workflow time.
    const waitedMs = Date.parse(status.authorization!.received_at) - Date.parse(status.started_at);
    expect(waitedMs).toBeGreaterThanOrEqual(10 * 60_000);
    expect(waitedMs).toBeLessThan(10 * 60_000 + 30_000);
    expect(fake.calls.filter((c) => c.name === 'markEventsDelivered').map((c) => c.args[0])).toEqual([{ event_ids: ['auth_evt1'] }]);
    expect(fake.calls.filter((c) => c.name === 'createCustomerToken')).toHaveLength(1);
  });

  it('ignores an authorization for another session', async () => {
    const fake = fakeTokenizeActivities();
    const status = await withWorker(fake.activities, async (taskQueue) => {
      const args = tokenizeInput();
      const handle = await suite.env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
      await untilState(handle, 'AWAITING_AUTHORIZATION');
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'auth-x', session_id: 'other-session', source: 'klarna_callback' });
      const s = await handle.query(tokenizeStatusQuery);
      await handle.terminate('test done');
      return s;
    });
    expect(status.state).toBe('AWAITING_AUTHORIZATION');
    expect(status.ignored_authorizations).toBe(1);
    expect(fake.calls.some((c) => c.name === 'createCustomerToken')).toBe(false);
  });

  it('ends ABANDONED when nobody authorizes within the abandonment timeout', async () => {
    const fake = fakeTokenizeActivities();
    const result = await withWorker(fake.activities, async (taskQueue) => {
      const args = tokenizeInput({ abandonment_timeout_ms: 30 * 60_000 });
      const handle = await suite.env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
      const before = await suite.env.currentTimeMs();
      const status = (await handle.result()) as TokenizeStatus;
      return { status, skippedMs: (await suite.env.currentTimeMs()) - before };
    });
    expect(result.status.state).toBe('ABANDONED');
    expect(result.skippedMs).toBeGreaterThanOrEqual(30 * 60_000);
    expect(fake.calls.some((c) => c.name === 'createCustomerToken')).toBe(false);
    expect(fake.recorded.at(-1)?.state).toBe('ABANDONED');
  });

  it('stores its outcome before showing it, and counts an authorization arriving meanwhile as ignored', async () => {
    let releaseRecording!: () => void;
    const recordingBlocked = new Promise<void>((resolve) => (releaseRecording = resolve));
    let recordingStarted!: () => void;
    const terminalRecordingStarted = new Promise<void>((resolve) => (recordingStarted = resolve));
    const fake = fakeTokenizeActivities({
      async recordFlowStatus({ status }) {
        fake.recorded.push(structuredClone(status) as TokenizeStatus);
        if (status.state === 'ABANDONED') {
          recordingStarted();
          await recordingBlocked;
        }
      },
    });
    const result = await withWorker(fake.activities, async (taskQueue) => {
      // Short enough to pass in real time: time is skipped only while the client waits for a result.
      const args = tokenizeInput({ abandonment_timeout_ms: 1_500 });
      const handle = await suite.env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
      await terminalRecordingStarted;
      // Decided and being stored, not yet shown: the query still says AWAITING_AUTHORIZATION.
      const during = await handle.query(tokenizeStatusQuery);
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'late', session_id: 'sess-1', source: 'checkout' });
      releaseRecording();
      return { during, final: (await handle.result()) as TokenizeStatus };
    });
    expect(result.during.state).toBe('AWAITING_AUTHORIZATION');
    expect(fake.recorded.at(-1)?.state).toBe('ABANDONED');
    expect(result.final.state).toBe('ABANDONED');
    expect(result.final.ignored_authorizations).toBe(1);
    expect(fake.calls.some((c) => c.name === 'createCustomerToken')).toBe(false);
  });

  it('ends EXPIRED when Klarna stays unavailable until the 60-minute authorization lifetime runs out', async () => {
    let attempts = 0;
    const fake = fakeTokenizeActivities({
      async createCustomerToken() {
        attempts += 1;
        return klarnaRefusal({ kind: 'server_error', operation: 'create_customer_token', httpStatus: 503 })();
      },
    });
    const status = await authorizedFlow(fake.activities, 'checkout');
    expect(status.state).toBe('EXPIRED');
    expect(status.failure?.kind).toBe('deadline_exceeded');
    expect(attempts).toBeGreaterThan(1);
    // Temporal stops retrying once the next attempt (backoff ≤ 1 min) would pass the deadline.
    const waitedMs = Date.parse(status.updated_at) - Date.parse(status.authorization!.received_at);
    expect(waitedMs).toBeGreaterThanOrEqual(58 * 60_000);
    expect(waitedMs).toBeLessThanOrEqual(61 * 60_000);
    expect(status.authorization!.expires_at).toBe(new Date(Date.parse(status.authorization!.received_at) + 60 * 60_000).toISOString());
  });

  it('ends EXPIRED at once when Klarna says the authorization is gone (NOT_FOUND)', async () => {
    const fake = fakeTokenizeActivities({
      createCustomerToken: klarnaRefusal({
        kind: 'authorization_not_found',
        operation: 'create_customer_token',
        httpStatus: 404,
        errorCode: 'NOT_FOUND',
        errorMessages: ['Invalid authorization token'],
        correlationId: 'corr-1',
      }),
    });
    const status = await authorizedFlow(fake.activities, 'klarna_callback');
    expect(status.state).toBe('EXPIRED');
    expect(status.failure).toMatchObject({ kind: 'authorization_not_found', klarna_error_code: 'NOT_FOUND', klarna_correlation_id: 'corr-1' });
  });

  // The flow's sessions always have intent tokenize, so Klarna's "intent buy" refusal cannot reach
  // it; INVALID_OPERATION can: an authorization already turned into a token (e.g. by another flow).
  it('ends FAILED with the Klarna reason when the token is refused (authorization already consumed → INVALID_OPERATION), without retrying', async () => {
    const fake = fakeTokenizeActivities({
      createCustomerToken: klarnaRefusal({
        kind: 'invalid_operation',
        operation: 'create_customer_token',
        httpStatus: 403,
        errorCode: 'INVALID_OPERATION',
        errorMessages: ['Authorization token already consumed'],
        correlationId: 'corr-consumed',
      }),
    });
    const status = await authorizedFlow(fake.activities, 'checkout');
    expect(status.state).toBe('FAILED');
    expect(status.failure).toMatchObject({ kind: 'invalid_operation', klarna_error_code: 'INVALID_OPERATION', klarna_correlation_id: 'corr-consumed' });
    expect(status.customer_token).toBeUndefined();
    // A final answer: one attempt, nothing vaulted, the outcome stored.
    expect(fake.calls.filter((c) => c.name === 'createCustomerToken')).toHaveLength(1);
    expect(fake.calls.some((c) => c.name === 'vaultCustomerToken')).toBe(false);
    expect(fake.recorded.at(-1)).toMatchObject({ state: 'FAILED', failure: { kind: 'invalid_operation' } });
  });

  it('ends FAILED when the Klarna session cannot be created, without waiting for the shopper', async () => {
    const fake = fakeTokenizeActivities({
      createPaymentSession: klarnaRefusal({ kind: 'invalid_request', operation: 'create_session', httpStatus: 400, errorCode: 'BAD_VALUE', errorMessages: ['Bad value: order_amount'] }),
    });
    const status = await withWorker(fake.activities, async (taskQueue) => {
      const args = tokenizeInput();
      const handle = await suite.env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
      return (await handle.result()) as TokenizeStatus;
    });
    expect(status.state).toBe('FAILED');
    expect(status.session_id).toBeUndefined();
    expect(status.failure).toMatchObject({ kind: 'invalid_request', klarna_error_code: 'BAD_VALUE' });
    // It never waited: no AWAITING_AUTHORIZATION stored, no inbox read, no timer run out.
    expect(fake.recorded.map((s) => s.state)).toEqual(['FAILED']);
    expect(fake.calls.map((c) => c.name)).toEqual(['createPaymentSession', 'recordFlowStatus']);
    expect(Date.parse(status.updated_at) - Date.parse(status.started_at)).toBeLessThan(60_000);
  });
});
