import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TokenizeStatus } from '../../contracts/flow-status.js';
import { registerSearchAttributes } from '../../temporal/register-search-attributes.js';
import { shopperAuthorizedSignal, tokenizeStatusQuery } from '../../workflows/definitions.js';
import { bundleWorkflows, fakeTokenizeActivities, klarnaRefusal, tokenizeInput, untilState } from './tokenize-workflow-fixtures.js';

// Orchestration only: the activities are fakes recording their calls; time is skipped by the
// Temporal test server, so 30-minute and 60-minute timers take milliseconds.

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: inject('temporalTestServerPath') } },
  });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  bundle = await bundleWorkflows();
}, 120_000);

afterAll(async () => {
  await env?.teardown();
});

async function withWorker<T>(activities: object, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `tq-${randomUUID()}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities });
  return worker.runUntil(fn(taskQueue));
}

/** Starts a flow, authorizes it once from `source` when it waits for that, and returns its result. */
function authorizedFlow(activities: object, source: 'checkout' | 'klarna_callback'): Promise<TokenizeStatus> {
  return withWorker(activities, async (taskQueue) => {
    const args = tokenizeInput();
    const handle = await env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
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
      const handle = await env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
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
    const tokenCalls = fake.calls.filter((c) => c.name === 'createAndVaultCustomerToken');
    expect(tokenCalls).toHaveLength(1);
    expect(tokenCalls[0]!.args[0]).toMatchObject({ authorization_token: 'auth-1', session_id: 'sess-1', description: 'Coffee subscription' });
    expect(fake.calls[0]).toMatchObject({ name: 'createPaymentSession', args: [{ intent: 'tokenize' }] });
    expect(fake.recorded.map((s) => s.state)).toEqual(['AWAITING_AUTHORIZATION', 'COMPLETED']);
  });

  it('ignores an authorization for another session', async () => {
    const fake = fakeTokenizeActivities();
    const status = await withWorker(fake.activities, async (taskQueue) => {
      const args = tokenizeInput();
      const handle = await env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
      await untilState(handle, 'AWAITING_AUTHORIZATION');
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'auth-x', session_id: 'other-session', source: 'klarna_callback' });
      const s = await handle.query(tokenizeStatusQuery);
      await handle.terminate('test done');
      return s;
    });
    expect(status.state).toBe('AWAITING_AUTHORIZATION');
    expect(status.ignored_authorizations).toBe(1);
    expect(fake.calls.some((c) => c.name === 'createAndVaultCustomerToken')).toBe(false);
  });

  it('ends ABANDONED when nobody authorizes within the abandonment timeout', async () => {
    const fake = fakeTokenizeActivities();
    const result = await withWorker(fake.activities, async (taskQueue) => {
      const args = tokenizeInput({ abandonment_timeout_ms: 30 * 60_000 });
      const handle = await env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
      const before = await env.currentTimeMs();
      const status = (await handle.result()) as TokenizeStatus;
      return { status, skippedMs: (await env.currentTimeMs()) - before };
    });
    expect(result.status.state).toBe('ABANDONED');
    expect(result.skippedMs).toBeGreaterThanOrEqual(30 * 60_000);
    expect(fake.calls.some((c) => c.name === 'createAndVaultCustomerToken')).toBe(false);
    expect(fake.recorded.at(-1)?.state).toBe('ABANDONED');
  });

  it('stores its outcome before showing it, and counts an authorization arriving meanwhile as ignored', async () => {
    let releaseRecording!: () => void;
    const recordingBlocked = new Promise<void>((resolve) => (releaseRecording = resolve));
    let recordingStarted!: () => void;
    const terminalRecordingStarted = new Promise<void>((resolve) => (recordingStarted = resolve));
    const fake = fakeTokenizeActivities({
      async recordFlowState(status) {
        fake.recorded.push(structuredClone(status));
        if (status.state === 'ABANDONED') {
          recordingStarted();
          await recordingBlocked;
        }
      },
    });
    const result = await withWorker(fake.activities, async (taskQueue) => {
      // Short enough to pass in real time: time is skipped only while the client waits for a result.
      const args = tokenizeInput({ abandonment_timeout_ms: 1_500 });
      const handle = await env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
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
    expect(fake.calls.some((c) => c.name === 'createAndVaultCustomerToken')).toBe(false);
  });

  it('ends EXPIRED when Klarna stays unavailable until the 60-minute authorization lifetime runs out', async () => {
    let attempts = 0;
    const fake = fakeTokenizeActivities({
      async createAndVaultCustomerToken() {
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
      createAndVaultCustomerToken: klarnaRefusal({
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

  it('ends FAILED with the Klarna reason when the token is refused (intent buy → INVALID_OPERATION)', async () => {
    const fake = fakeTokenizeActivities({
      createAndVaultCustomerToken: klarnaRefusal({
        kind: 'invalid_operation',
        operation: 'create_customer_token',
        httpStatus: 403,
        errorCode: 'INVALID_OPERATION',
        errorMessages: ['Not allowed to create customer tokens for intent buy.'],
      }),
    });
    const status = await authorizedFlow(fake.activities, 'checkout');
    expect(status.state).toBe('FAILED');
    expect(status.failure).toMatchObject({ kind: 'invalid_operation', klarna_error_code: 'INVALID_OPERATION' });
  });

  it('ends FAILED when the Klarna session cannot be created, without waiting for the shopper', async () => {
    const fake = fakeTokenizeActivities({
      createPaymentSession: klarnaRefusal({ kind: 'invalid_request', operation: 'create_session', httpStatus: 400, errorCode: 'BAD_VALUE', errorMessages: ['Bad value: order_amount'] }),
    });
    const status = await withWorker(fake.activities, async (taskQueue) => {
      const args = tokenizeInput();
      const handle = await env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
      return (await handle.result()) as TokenizeStatus;
    });
    expect(status.state).toBe('FAILED');
    expect(status.session_id).toBeUndefined();
    expect(status.failure?.kind).toBe('invalid_request');
  });
});
