import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import type { BuyAndTokenizeInput, BuyAndTokenizeStatus } from '../../contracts/buy-and-tokenize.js';
import { createEncryptionCodec, encryptingDataConverter, ephemeralPayloadKeys } from '../../temporal/payload-codec.js';
import { buyAndTokenizeStatusQuery, cancelBuyAndTokenizeUpdate, shopperAuthorizedSignal } from '../../workflows/definitions.js';
import {
  buyAndTokenizeInput,
  fakeBuyAndTokenizeActivities,
  fakeOrder,
  untilBuyAndTokenizeState,
  type FakeBuyAndTokenizeActivities,
} from './buy-and-tokenize-workflow-fixtures.js';
import { useTimeSkippingEnvironment } from './time-skipping-environment.js';
import { fakeCreatedToken, klarnaRefusal } from './tokenize-workflow-fixtures.js';

// Orchestration only, on the time-skipping test server: every terminal path of the buy-and-tokenize
// saga, each partial outcome with what the saga undoes. Activities are fakes recording their calls.

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const dataConverter = encryptingDataConverter(createEncryptionCodec(ephemeralPayloadKeys()));
const suite = useTimeSkippingEnvironment(dataConverter);

async function withWorker<T>(activities: object, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `tq-${randomUUID()}`;
  const worker = await Worker.create({ connection: suite.env.nativeConnection, taskQueue, workflowBundle: suite.bundle, activities, dataConverter });
  return worker.runUntil(fn(taskQueue));
}

const start = (taskQueue: string, args: BuyAndTokenizeInput) =>
  suite.env.client.workflow.start('buyAndTokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });

/** Starts a flow, authorizes it once from `source` when it waits, and returns its result. */
function authorizedFlow(
  fake: ReturnType<typeof fakeBuyAndTokenizeActivities>,
  source: 'checkout' | 'klarna_callback' = 'klarna_callback',
  input: Partial<BuyAndTokenizeInput> = {},
): Promise<BuyAndTokenizeStatus> {
  return withWorker(fake.activities, async (taskQueue) => {
    const handle = await start(taskQueue, buyAndTokenizeInput(input));
    await untilBuyAndTokenizeState(handle, 'AWAITING_AUTHORIZATION');
    await handle.signal(shopperAuthorizedSignal, { authorization_token: 'auth-1', session_id: 'sess-1', source });
    return (await handle.result()) as BuyAndTokenizeStatus;
  });
}

const refused = {
  tokenNotTokenizable: klarnaRefusal({ kind: 'invalid_request', operation: 'create_customer_token', httpStatus: 400, errorCode: 'BAD_REQUEST', errorMessages: ['BANK_TRANSFER is not valid for creating customer tokens in SE'] }),
  orderRejected: klarnaRefusal({ kind: 'rejected', operation: 'create_order', httpStatus: 403, errorCode: 'REJECTED', errorMessages: ['Rejected'], correlationId: 'corr-rejected' }),
  orderExpired: klarnaRefusal({ kind: 'authorization_not_found', operation: 'create_order', httpStatus: 404, errorCode: 'NOT_FOUND', errorMessages: ['Invalid authorization token'] }),
} satisfies Record<string, FakeBuyAndTokenizeActivities[keyof FakeBuyAndTokenizeActivities]>;

describe('buy-and-tokenize workflow', () => {
  it('COMPLETED: the token first, then the order from the same authorization, each with its own idempotency key; the order stored before success', async () => {
    const fake = fakeBuyAndTokenizeActivities();
    const status = await authorizedFlow(fake, 'klarna_callback', { auto_capture: true });
    expect(status).toMatchObject({
      state: 'COMPLETED',
      flow_type: 'buy_and_tokenize',
      require_token: true,
      customer_token: { token_ref: fakeCreatedToken.token_ref, masked: fakeCreatedToken.masked },
      order: fakeOrder,
      authorization: { source: 'klarna_callback' },
    });
    expect(status.failure).toBeUndefined();
    expect(status.compensation).toBeUndefined();
    expect(fake.steps()).toEqual(['createPaymentSession', 'createCustomerToken', 'vaultCustomerToken', 'placeAuthorizationOrder', 'recordAuthorizationOrder']);
    expect(fake.argsOf('createPaymentSession')[0]).toMatchObject({ intent: 'buy_and_tokenize', idempotency_key: expect.stringMatching(uuid) });
    const [token] = fake.argsOf('createCustomerToken');
    const [order] = fake.argsOf('placeAuthorizationOrder');
    expect(token).toMatchObject({ authorization_token: 'auth-1', idempotency_key: expect.stringMatching(uuid), description: 'Coffee subscription' });
    expect(order).toMatchObject({ authorization_token: 'auth-1', idempotency_key: expect.stringMatching(uuid) });
    expect(new Set([fake.argsOf('createPaymentSession')[0]!.idempotency_key, token!.idempotency_key, order!.idempotency_key]).size, 'one key per Klarna POST').toBe(3);
    // The order body is the authorized cart (Klarna compares them), plus auto_capture.
    expect(order!.order).toEqual({ ...buyAndTokenizeInput().session, auto_capture: true });
    expect(fake.argsOf('recordAuthorizationOrder')[0]).toMatchObject({ order: fakeOrder, token_ref: fakeCreatedToken.token_ref, order_amount: 1000, purchase_currency: 'SEK', auto_capture: true });
    // Stored: waiting, then the outcome (after the order document).
    expect(fake.recorded.map((s) => s.state)).toEqual(['AWAITING_AUTHORIZATION', 'COMPLETED']);
    expect(fake.recorded.at(-1)).toMatchObject({ order: { order_id: 'order-1' }, customer_token: { token_ref: fakeCreatedToken.token_ref } });
    const recordOrderAt = fake.calls.findIndex((c) => c.name === 'recordAuthorizationOrder');
    const recordCompletedAt = fake.calls.findIndex((c) => c.name === 'recordFlowStatus' && (c.args[0] as { status: { state: string } }).status.state === 'COMPLETED');
    expect(recordOrderAt).toBeLessThan(recordCompletedAt);
  });

  it('retries an order call whose reply was lost with the same idempotency key (one order)', async () => {
    const keys: string[] = [];
    const fake = fakeBuyAndTokenizeActivities({
      async placeAuthorizationOrder(input) {
        keys.push(input.idempotency_key);
        if (keys.length === 1) return klarnaRefusal({ kind: 'network', operation: 'create_order' })();
        return fakeOrder;
      },
    });
    const status = await authorizedFlow(fake);
    expect(status.state).toBe('COMPLETED');
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
  });

  it('token refused (require_token, the default): FAILED, no order, the authorization released', async () => {
    const fake = fakeBuyAndTokenizeActivities({ createCustomerToken: refused.tokenNotTokenizable });
    const status = await authorizedFlow(fake);
    expect(status.state).toBe('FAILED');
    expect(status.failure).toMatchObject({ kind: 'invalid_request', klarna_error_code: 'BAD_REQUEST' });
    expect(status.compensation).toEqual({ authorization_released: true });
    expect(status.order).toBeUndefined();
    expect(status.customer_token).toBeUndefined();
    expect(fake.steps()).toEqual(['createPaymentSession', 'createCustomerToken', 'releaseAuthorizations']);
    expect(fake.argsOf('releaseAuthorizations')).toEqual([{ flow_id: expect.any(String), authorization_tokens: ['auth-1'] }]);
    expect(fake.recorded.at(-1)).toMatchObject({ state: 'FAILED', compensation: { authorization_released: true } });
  });

  it('order placed and token refused (require_token: false): COMPLETED_WITHOUT_TOKEN, the order kept, the reason in token_failure', async () => {
    const fake = fakeBuyAndTokenizeActivities({ createCustomerToken: refused.tokenNotTokenizable });
    const status = await authorizedFlow(fake, 'klarna_callback', { require_token: false });
    expect(status).toMatchObject({ state: 'COMPLETED_WITHOUT_TOKEN', require_token: false, order: fakeOrder, token_failure: { kind: 'invalid_request', klarna_error_code: 'BAD_REQUEST' } });
    expect(status.customer_token).toBeUndefined();
    expect(status.failure).toBeUndefined();
    expect(fake.steps()).toEqual(['createPaymentSession', 'createCustomerToken', 'placeAuthorizationOrder', 'recordAuthorizationOrder']);
    expect(fake.argsOf('recordAuthorizationOrder')[0]!.token_ref).toBeUndefined();
  });

  it('token created and order refused: the token is cancelled (CANCELLING_TOKEN), the authorization released, FAILED', async () => {
    const fake = fakeBuyAndTokenizeActivities({ placeAuthorizationOrder: refused.orderRejected });
    const status = await authorizedFlow(fake);
    expect(status.state).toBe('FAILED');
    expect(status.failure).toMatchObject({ kind: 'rejected', klarna_error_code: 'REJECTED', klarna_correlation_id: 'corr-rejected' });
    expect(status.compensation).toEqual({ token: { token_ref: fakeCreatedToken.token_ref, masked: fakeCreatedToken.masked, cancelled: true }, authorization_released: true });
    expect(status.customer_token, 'a cancelled token is not offered for charges').toBeUndefined();
    expect(status.order).toBeUndefined();
    expect(fake.steps()).toEqual(['createPaymentSession', 'createCustomerToken', 'vaultCustomerToken', 'placeAuthorizationOrder', 'cancelTokenOfFailedPurchase', 'releaseAuthorizations']);
    expect(fake.argsOf('cancelTokenOfFailedPurchase')[0]).toMatchObject({ token_ref: fakeCreatedToken.token_ref, idempotency_key: expect.stringMatching(uuid) });
    // The compensation is stored while it runs, with why.
    expect(fake.recorded.map((s) => s.state)).toEqual(['AWAITING_AUTHORIZATION', 'CANCELLING_TOKEN', 'FAILED']);
    expect(fake.recorded[1]).toMatchObject({ failure: { kind: 'rejected' } });
  });

  it('authorization expired between the two (Klarna: NOT_FOUND for the order): the token is cancelled, nothing to release, EXPIRED', async () => {
    const fake = fakeBuyAndTokenizeActivities({ placeAuthorizationOrder: refused.orderExpired });
    // From the checkout: the token proved it real, so NOT_FOUND now means it expired.
    const status = await authorizedFlow(fake, 'checkout');
    expect(status.state).toBe('EXPIRED');
    expect(status.failure).toMatchObject({ kind: 'authorization_not_found', klarna_error_code: 'NOT_FOUND' });
    expect(status.compensation).toEqual({ token: { token_ref: fakeCreatedToken.token_ref, masked: fakeCreatedToken.masked, cancelled: true } });
    expect(status.rejected_authorizations).toBe(0);
    expect(fake.steps()).toEqual(['createPaymentSession', 'createCustomerToken', 'vaultCustomerToken', 'placeAuthorizationOrder', 'cancelTokenOfFailedPurchase']);
  });

  it('authorization expired between the two (Klarna unavailable until the 60 minutes ran out): EXPIRED, the token cancelled', async () => {
    let attempts = 0;
    const fake = fakeBuyAndTokenizeActivities({
      async placeAuthorizationOrder() {
        attempts += 1;
        return klarnaRefusal({ kind: 'server_error', operation: 'create_order', httpStatus: 503 })();
      },
    });
    const status = await authorizedFlow(fake);
    expect(status.state).toBe('EXPIRED');
    expect(status.failure?.kind).toBe('deadline_exceeded');
    expect(attempts).toBeGreaterThan(1);
    const waitedMs = Date.parse(status.updated_at) - Date.parse(status.authorization!.received_at);
    expect(waitedMs).toBeGreaterThanOrEqual(58 * 60_000);
    expect(waitedMs).toBeLessThanOrEqual(61 * 60_000);
    expect(status.compensation?.token?.cancelled).toBe(true);
    expect(fake.steps()).not.toContain('releaseAuthorizations');
  });

  it('a token Klarna will not cancel is reported for an operator, and the flow still ends', async () => {
    const fake = fakeBuyAndTokenizeActivities({
      placeAuthorizationOrder: refused.orderRejected,
      cancelTokenOfFailedPurchase: klarnaRefusal({ kind: 'unauthorized', operation: 'cancel_token', httpStatus: 401 }),
    });
    const status = await authorizedFlow(fake);
    expect(status.state).toBe('FAILED');
    expect(status.failure?.kind).toBe('rejected');
    expect(status.compensation).toMatchObject({ token: { token_ref: fakeCreatedToken.token_ref, cancelled: false, failure: { kind: 'unauthorized' } }, authorization_released: true });
  });

  it('token expired before it was made (Klarna callback, NOT_FOUND): EXPIRED, no order, nothing to undo', async () => {
    const fake = fakeBuyAndTokenizeActivities({
      createCustomerToken: klarnaRefusal({ kind: 'authorization_not_found', operation: 'create_customer_token', httpStatus: 404, errorCode: 'NOT_FOUND' }),
    });
    const status = await authorizedFlow(fake, 'klarna_callback');
    expect(status.state).toBe('EXPIRED');
    expect(status.compensation).toBeUndefined();
    expect(fake.steps()).toEqual(['createPaymentSession', 'createCustomerToken']);
  });

  it('sets aside a checkout authorization Klarna does not know and completes with the real one from the inbox', async () => {
    let checks = 0;
    const fake = fakeBuyAndTokenizeActivities({
      async createCustomerToken(input) {
        if (input.authorization_token === 'bogus') {
          return klarnaRefusal({ kind: 'authorization_not_found', operation: 'create_customer_token', httpStatus: 404, errorCode: 'NOT_FOUND' })();
        }
        return fakeCreatedToken;
      },
      async collectPendingAuthorizations() {
        checks += 1;
        return checks < 2 ? [] : [{ authorization_token: 'auth-1', session_id: 'sess-1', source: 'klarna_callback' as const, event_id: 'auth_evt1' }];
      },
    });
    const status = await withWorker(fake.activities, async (taskQueue) => {
      // Looks at 10 and 30 minutes: the abandonment timeout is beyond the second.
      const handle = await start(taskQueue, buyAndTokenizeInput({ abandonment_timeout_ms: 45 * 60_000 }));
      await untilBuyAndTokenizeState(handle, 'AWAITING_AUTHORIZATION');
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'bogus', source: 'checkout' });
      return (await handle.result()) as BuyAndTokenizeStatus;
    });
    expect(status).toMatchObject({ state: 'COMPLETED', rejected_authorizations: 1, authorization: { source: 'klarna_callback' } });
    expect(fake.argsOf('createCustomerToken').map((a) => a.authorization_token)).toEqual(['bogus', 'auth-1']);
    expect(fake.argsOf('placeAuthorizationOrder').map((a) => a.authorization_token)).toEqual(['auth-1']);
    expect(fake.argsOf('markEventsDelivered')).toEqual([{ event_ids: ['auth_evt1'] }]);
    expect(fake.steps()).not.toContain('releaseAuthorizations');
    expect(checks).toBe(2);
    const waitedMs = Date.parse(status.authorization!.received_at) - Date.parse(status.started_at);
    expect(waitedMs).toBeGreaterThanOrEqual(30 * 60_000);
    expect(waitedMs).toBeLessThan(31 * 60_000);
  });

  it('shopper abandoned: ABANDONED after the abandonment timeout, no Klarna call but the session', async () => {
    const fake = fakeBuyAndTokenizeActivities();
    const status = await withWorker(fake.activities, async (taskQueue) => {
      const handle = await start(taskQueue, buyAndTokenizeInput({ abandonment_timeout_ms: 30 * 60_000 }));
      return (await handle.result()) as BuyAndTokenizeStatus;
    });
    expect(status.state).toBe('ABANDONED');
    expect(Date.parse(status.updated_at) - Date.parse(status.started_at)).toBeGreaterThanOrEqual(30 * 60_000);
    expect(fake.steps().filter((s) => s !== 'collectPendingAuthorizations')).toEqual(['createPaymentSession']);
    expect(fake.recorded.at(-1)?.state).toBe('ABANDONED');
  });

  it('CANCELLED while waiting; a cancel once Klarna is making the token is refused', async () => {
    let releaseToken!: () => void;
    const tokenHeld = new Promise<void>((resolve) => (releaseToken = resolve));
    const fake = fakeBuyAndTokenizeActivities({
      async createCustomerToken() {
        await tokenHeld;
        return fakeCreatedToken;
      },
    });
    const result = await withWorker(fake.activities, async (taskQueue) => {
      const waiting = await start(taskQueue, buyAndTokenizeInput());
      await untilBuyAndTokenizeState(waiting, 'AWAITING_AUTHORIZATION');
      const cancelled = await waiting.executeUpdate(cancelBuyAndTokenizeUpdate, { args: [{ reason: 'shopper_declined' }] });

      const busy = await start(taskQueue, buyAndTokenizeInput());
      await untilBuyAndTokenizeState(busy, 'AWAITING_AUTHORIZATION');
      await busy.signal(shopperAuthorizedSignal, { authorization_token: 'auth-2', source: 'checkout' });
      await untilBuyAndTokenizeState(busy, 'CREATING_TOKEN');
      const refusal = await busy.executeUpdate(cancelBuyAndTokenizeUpdate, { args: [{ reason: 'merchant_cancelled' }] }).catch((err: unknown) => err);
      releaseToken();
      return { cancelled, refusal, busy: (await busy.result()) as BuyAndTokenizeStatus, query: await waiting.query(buyAndTokenizeStatusQuery) };
    });
    expect(result.cancelled).toMatchObject({ state: 'CANCELLED', cancellation: { reason: 'shopper_declined' } });
    expect(result.query.state).toBe('CANCELLED');
    expect(result.refusal).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((result.refusal as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'not_cancellable' });
    expect(result.busy.state).toBe('COMPLETED');
  });

  it('FAILED when the Klarna session cannot be created', async () => {
    const fake = fakeBuyAndTokenizeActivities({
      createPaymentSession: klarnaRefusal({ kind: 'invalid_request', operation: 'create_session', httpStatus: 400, errorCode: 'BAD_VALUE' }),
    });
    const status = await withWorker(fake.activities, async (taskQueue) => (await (await start(taskQueue, buyAndTokenizeInput())).result()) as BuyAndTokenizeStatus);
    expect(status.state).toBe('FAILED');
    expect(fake.recorded.map((s) => s.state)).toEqual(['FAILED']);
  });
});
