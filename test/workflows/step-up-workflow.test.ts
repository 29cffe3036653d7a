import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import type { HppSessionView, StepUpInput, StepUpStatus } from '../../contracts/step-up.js';
import { createEncryptionCodec, encryptingDataConverter, ephemeralPayloadKeys } from '../../temporal/payload-codec.js';
import { cancelStepUpUpdate, hppStatusSignal, shopperAuthorizedSignal } from '../../workflows/definitions.js';
import { HPP_POLL_FIRST_MS, HPP_POLL_MAX_MS } from '../../workflows/step-up-workflow.js';
import { fakeStepUpActivities, hppInput, hppView, stepUpInput, untilStepUp } from './step-up-workflow-fixtures.js';
import { useTimeSkippingEnvironment } from './time-skipping-environment.js';
import { klarnaRefusal } from './tokenize-workflow-fixtures.js';

// Orchestration only: fake activities, time skipped by the Temporal test server (shopper timeout,
// the authorization's 60 minutes, the HPP session's expiry and the HPP polling back-off).

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const dataConverter = encryptingDataConverter(createEncryptionCodec(ephemeralPayloadKeys()));
const suite = useTimeSkippingEnvironment(dataConverter);

type Handle = Awaited<ReturnType<typeof suite.env.client.workflow.start>>;

/** Runs one recovery on a fresh worker: `act` gets the handle once the recovery waits for the shopper. */
async function run(activities: object, input: StepUpInput, act: (handle: Handle) => Promise<void> = async () => {}): Promise<StepUpStatus> {
  const taskQueue = `tq-${randomUUID()}`;
  const worker = await Worker.create({ connection: suite.env.nativeConnection, taskQueue, workflowBundle: suite.bundle, activities, dataConverter });
  return worker.runUntil(async () => {
    const handle = await suite.env.client.workflow.start('stepUpRecoveryWorkflow', { taskQueue, workflowId: input.flow_id, args: [input] });
    await untilStepUp(handle, (s) => s.state !== 'CREATING_SESSION', 'the session');
    await act(handle);
    return (await handle.result()) as StepUpStatus;
  });
}

describe('step-up recovery workflow, SDK path', () => {
  it('creates the session with the step_up_id, places one order from the first authorization, marks the token', async () => {
    const fake = fakeStepUpActivities();
    const input = stepUpInput();
    const result = await run(fake.activities, input, async (handle) => {
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'auth-1', session_id: 'sess-1', source: 'klarna_callback', event_id: 'e1' });
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'auth-1', session_id: 'sess-1', source: 'checkout' });
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'auth-9', session_id: 'other', source: 'checkout' });
    });
    expect(result).toMatchObject({ state: 'COMPLETED', flow_type: 'step_up', next_action: 'none', order: { order_id: 'order-1', placed_by: 'merchant' }, client_token: 'client-token-1' });
    expect(result.ignored_authorizations).toBe(2);
    expect(fake.calls[0]).toMatchObject({
      name: 'createStepUpSession',
      args: [{ step_up_id: 'step-up-1', token_ref: input.token_ref, authorization_callback: true, idempotency_key: expect.stringMatching(uuid), order: input.order }],
    });
    const orders = fake.calls.filter((c) => c.name === 'placeStepUpOrder');
    expect(orders).toHaveLength(1);
    expect(orders[0]!.args[0]).toMatchObject({ authorization_token: 'auth-1', idempotency_key: expect.stringMatching(uuid) });
    expect(fake.calls.filter((c) => c.name === 'recordPaymentMethodChanged')).toHaveLength(1);
    expect(fake.recorded.map((s) => s.state)).toEqual(['AWAITING_SHOPPER', 'COMPLETED']);
    expect(JSON.stringify(fake.recorded)).not.toContain('auth-1');
  });

  it('collects an authorization from the inbox when no signal reached it', async () => {
    let checks = 0;
    const fake = fakeStepUpActivities({
      async collectPendingAuthorizations() {
        checks += 1;
        return [{ authorization_token: 'auth-1', session_id: 'sess-1', source: 'klarna_callback' as const, event_id: 'auth_evt1' }];
      },
    });
    const result = await run(fake.activities, stepUpInput());
    expect(result).toMatchObject({ state: 'COMPLETED', authorization: { source: 'klarna_callback' } });
    // Found at the first look, 10 minutes in (patch inbox-check-rare).
    expect(checks).toBe(1);
    expect(Date.parse(result.updated_at) - Date.parse(result.started_at)).toBeGreaterThanOrEqual(10 * 60_000);
    expect(fake.calls.filter((c) => c.name === 'markEventsDelivered').map((c) => c.args[0])).toContainEqual({ event_ids: ['auth_evt1'] });
  });

  it('the checkout ends a waiting recovery: shopper_declined → DECLINED, shopper_cancelled → CANCELLED', async () => {
    const declined = await run(fakeStepUpActivities().activities, stepUpInput(), async (handle) => {
      await handle.executeUpdate(cancelStepUpUpdate, { args: [{ reason: 'shopper_declined' }] });
    });
    expect(declined).toMatchObject({ state: 'DECLINED', failure: { kind: 'shopper_declined' }, cancellation: { reason: 'shopper_declined' } });
    const cancelled = await run(fakeStepUpActivities().activities, stepUpInput(), async (handle) => {
      await handle.executeUpdate(cancelStepUpUpdate, { args: [{ reason: 'shopper_cancelled' }] });
    });
    expect(cancelled).toMatchObject({ state: 'CANCELLED', cancellation: { reason: 'shopper_cancelled' } });
  });

  it('ends ABANDONED when the shopper does not authorize within the shopper timeout', async () => {
    const fake = fakeStepUpActivities();
    const result = await run(fake.activities, stepUpInput({ shopper_timeout_ms: 10 * 60_000 }));
    expect(result).toMatchObject({ state: 'ABANDONED', failure: { kind: 'shopper_timeout' }, next_action: 'none' });
    expect(Date.parse(result.updated_at) - Date.parse(result.started_at)).toBeGreaterThanOrEqual(10 * 60_000);
    expect(fake.calls.some((c) => c.name === 'placeStepUpOrder')).toBe(false);
  });

  it('ends EXPIRED when the order cannot be placed within the authorization’s 60 minutes', async () => {
    const fake = fakeStepUpActivities({ placeStepUpOrder: klarnaRefusal({ kind: 'server_error', operation: 'create_order', httpStatus: 503 }) });
    const result = await run(fake.activities, stepUpInput(), async (handle) => {
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'auth-1', source: 'klarna_callback' });
    });
    expect(result).toMatchObject({ state: 'EXPIRED', failure: { kind: 'authorization_expired' } });
    expect(Date.parse(result.authorization!.expires_at) - Date.parse(result.authorization!.received_at)).toBe(60 * 60_000);
    // Retried in workflow time until no retry fits in the 60 minutes (the next one, at most
    // klarnaCall's 1-minute interval away, would start after the authorization ended).
    const retriedFor = Date.parse(result.updated_at) - Date.parse(result.authorization!.received_at);
    expect(retriedFor).toBeGreaterThanOrEqual(59 * 60_000);
    expect(retriedFor).toBeLessThanOrEqual(60 * 60_000);
  });

  it('ends DECLINED when Klarna refuses the order, FAILED when the session cannot be created', async () => {
    const declined = await run(fakeStepUpActivities({ placeStepUpOrder: klarnaRefusal({ kind: 'rejected', operation: 'create_order', httpStatus: 403, errorCode: 'REJECTED' }) }).activities, stepUpInput(), async (handle) => {
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'auth-1', source: 'klarna_callback' });
    });
    expect(declined).toMatchObject({ state: 'DECLINED', failure: { kind: 'rejected' } });
    const fake = fakeStepUpActivities({ createStepUpSession: klarnaRefusal({ kind: 'invalid_request', operation: 'create_session', httpStatus: 400, errorCode: 'BAD_VALUE' }) });
    const taskQueue = `tq-${randomUUID()}`;
    const worker = await Worker.create({ connection: suite.env.nativeConnection, taskQueue, workflowBundle: suite.bundle, activities: fake.activities, dataConverter });
    const input = stepUpInput();
    const failed = await worker.runUntil(suite.env.client.workflow.execute('stepUpRecoveryWorkflow', { taskQueue, workflowId: input.flow_id, args: [input] }));
    expect(failed).toMatchObject({ state: 'FAILED', failure: { kind: 'invalid_request' }, next_action: 'none' });
  });

  it('sets aside a checkout authorization Klarna does not know and completes with the real one', async () => {
    const fake = fakeStepUpActivities({
      async placeStepUpOrder(input) {
        if (input.authorization_token === 'bogus') return klarnaRefusal({ kind: 'authorization_not_found', operation: 'create_order', httpStatus: 404 })();
        return { order_id: 'order-1', placed_by: 'merchant', fraud_status: 'ACCEPTED' };
      },
    });
    const result = await run(fake.activities, stepUpInput(), async (handle) => {
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'bogus', source: 'checkout' });
      await untilStepUp(handle, (s) => s.state === 'AWAITING_SHOPPER' && fake.calls.filter((c) => c.name === 'placeStepUpOrder').length === 1, 'back to waiting');
      await handle.signal(shopperAuthorizedSignal, { authorization_token: 'auth-1', source: 'klarna_callback' });
    });
    expect(result).toMatchObject({ state: 'COMPLETED', authorization: { source: 'klarna_callback' } });
  });
});

describe('step-up recovery workflow, HPP path', () => {
  /** An HPP whose session Klarna shows as `current` (the fallback read and the confirmation of a final status). */
  function hppFake(current: { view: HppSessionView }, overrides = {}, hppLifetimeMs?: number) {
    return fakeStepUpActivities({ async readStepUpHppSession() { return current.view; }, ...overrides }, hppLifetimeMs);
  }

  it('NONE: BACK, ERROR and a decline wait for the next attempt; COMPLETED places the order from its authorization', async () => {
    const current = { view: hppView('WAITING') };
    const fake = hppFake(current);
    const result = await run(fake.activities, hppInput('NONE'), async (handle) => {
      expect(await untilStepUp(handle, () => true, 'status')).toMatchObject({ next_action: 'redirect_to_hpp', hpp: { redirect_url: 'https://pay.example/hpp-1', status: 'WAITING' } });
      for (const [i, s] of (['IN_PROGRESS', 'BACK', 'IN_PROGRESS', 'ERROR', 'IN_PROGRESS', 'FAILED'] as const).entries()) {
        await handle.signal(hppStatusSignal, hppView(s, { event_id: `e${i}`, updated_at: `2026-12-01T12:00:0${i}Z` }));
      }
      await untilStepUp(handle, (s) => s.hpp?.status === 'FAILED', 'the decline shown');
      current.view = hppView('COMPLETED', { authorization_token: 'auth-hpp', updated_at: '2026-12-01T12:00:09Z' });
      await handle.signal(hppStatusSignal, { ...current.view, event_id: 'e9' });
      await handle.signal(hppStatusSignal, { ...current.view, event_id: 'e9' }); // a duplicate delivery
    });
    expect(result).toMatchObject({ state: 'COMPLETED', order: { order_id: 'order-1', placed_by: 'merchant' }, hpp: { status: 'COMPLETED', failed_attempts: 3 }, authorization: { source: 'hpp' } });
    expect(fake.calls.filter((c) => c.name === 'placeStepUpOrder').map((c) => c.args[0])).toEqual([expect.objectContaining({ authorization_token: 'auth-hpp' })]);
    expect(fake.calls.find((c) => c.name === 'createStepUpSession')!.args[0]).toMatchObject({ authorization_callback: false });
    expect(fake.calls.find((c) => c.name === 'createStepUpHppSession')!.args[0]).toMatchObject({ place_order_mode: 'NONE', session_id: 'sess-1', idempotency_key: expect.stringMatching(uuid) });
  });

  it('polling fallback: with no status_update, the HPP session is read 15 s after creation, then at doubling intervals up to every 5 minutes', async () => {
    const at = { created: 0, reads: [] as number[] };
    const now = () => Context.current().info.currentAttemptScheduledTimestampMs;
    const fake = fakeStepUpActivities({
      async createStepUpHppSession() {
        at.created = now();
        return { session_id: 'hpp-1', redirect_url: 'https://pay.example/hpp-1', expires_at: new Date(at.created + 47 * 3_600_000).toISOString() };
      },
      async readStepUpHppSession() {
        at.reads.push(now());
        return at.reads.length < 8 ? hppView('IN_PROGRESS') : hppView('COMPLETED', { order_id: 'order-hpp' });
      },
    });
    const result = await run(fake.activities, hppInput('PLACE_ORDER', { shopper_timeout_ms: 2 * 3_600_000 }));
    expect(result).toMatchObject({ state: 'COMPLETED', order: { order_id: 'order-hpp', placed_by: 'hpp' } });
    const gaps = at.reads.map((t, i) => t - (i === 0 ? at.created : at.reads[i - 1]!));
    const expected = [15, 30, 60, 120, 240, 300, 300, 300].map((s) => s * 1000);
    expect(expected[0]).toBe(HPP_POLL_FIRST_MS);
    expect(expected.at(-1)).toBe(HPP_POLL_MAX_MS);
    expect(gaps).toHaveLength(expected.length);
    // Workflow time: each timer exactly, plus the few real milliseconds the activities took.
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(expected[i]!);
      expect(gap).toBeLessThan(expected[i]! + 2_000);
    });
  });

  it('NONE: an HPP authorization whose order cannot be placed within its 60 minutes ends EXPIRED', async () => {
    const current = { view: hppView('COMPLETED', { authorization_token: 'auth-hpp' }) };
    const fake = hppFake(current, { placeStepUpOrder: klarnaRefusal({ kind: 'server_error', operation: 'create_order', httpStatus: 503 }) });
    const result = await run(fake.activities, hppInput('NONE'), async (handle) => {
      await handle.signal(hppStatusSignal, { ...current.view, event_id: 'e1' });
    });
    expect(result).toMatchObject({ state: 'EXPIRED', failure: { kind: 'authorization_expired' }, authorization: { source: 'hpp' } });
    // As on the SDK path: retried until no retry fits in the authorization's 60 minutes.
    const retriedFor = Date.parse(result.updated_at) - Date.parse(result.authorization!.received_at);
    expect(retriedFor).toBeGreaterThanOrEqual(59 * 60_000);
    expect(retriedFor).toBeLessThanOrEqual(60 * 60_000);
    expect(fake.calls.filter((c) => c.name === 'placeStepUpOrder').length).toBeGreaterThan(1);
  });

  it('PLACE_ORDER: no status_update arrives; the back-off read finds the order HPP placed', async () => {
    let reads = 0;
    const fake = fakeStepUpActivities({
      async readStepUpHppSession() {
        reads += 1;
        return reads < 4 ? hppView('IN_PROGRESS') : hppView('COMPLETED', { order_id: 'order-hpp', klarna_reference: 'ab12cd34' });
      },
    });
    const result = await run(fake.activities, hppInput('PLACE_ORDER'));
    expect(result).toMatchObject({ state: 'COMPLETED', order: { order_id: 'order-hpp', placed_by: 'hpp', klarna_reference: 'ab12cd34' } });
    expect(fake.calls.some((c) => c.name === 'placeStepUpOrder')).toBe(false);
    expect(fake.calls.filter((c) => c.name === 'recordPaymentMethodChanged')).toHaveLength(1);
  });

  it('ignores status updates out of order, for another HPP session, and a forged final status Klarna does not confirm', async () => {
    const current = { view: hppView('BACK', { updated_at: '2026-12-01T12:00:05Z' }) };
    const fake = hppFake(current);
    const result = await run(fake.activities, hppInput('CAPTURE_ORDER', { shopper_timeout_ms: 5 * 60_000 }), async (handle) => {
      await handle.signal(hppStatusSignal, hppView('BACK', { event_id: 'b', updated_at: '2026-12-01T12:00:05Z' }));
      await handle.signal(hppStatusSignal, hppView('IN_PROGRESS', { event_id: 'a', updated_at: '2026-12-01T12:00:01Z' }));
      await handle.signal(hppStatusSignal, { ...hppView('COMPLETED', { order_id: 'x' }), session_id: 'hpp-other', event_id: 'c' });
      // "COMPLETED" in a callback body; Klarna's own read says BACK: not taken.
      await handle.signal(hppStatusSignal, hppView('COMPLETED', { event_id: 'd', order_id: 'forged' }));
      await untilStepUp(handle, (s) => s.ignored_status_updates >= 2, 'ignored');
    });
    expect(result.state).toBe('ABANDONED');
    expect(result.order).toBeUndefined();
    expect(result.ignored_status_updates).toBeGreaterThanOrEqual(3);
    expect(fake.calls.filter((c) => c.name === 'disableStepUpHppSession')).toHaveLength(1);
  });

  it('CANCELLED when the shopper cancels; FAILED hpp_disabled when the HPP session is disabled', async () => {
    const cancelled = { view: hppView('CANCELLED') };
    expect(await run(hppFake(cancelled).activities, hppInput(), async (h) => h.signal(hppStatusSignal, hppView('CANCELLED', { event_id: 'c' })))).toMatchObject({
      state: 'CANCELLED',
      failure: { kind: 'shopper_cancelled' },
    });
    const disabled = { view: hppView('DISABLED') };
    expect(await run(hppFake(disabled).activities, hppInput())).toMatchObject({ state: 'FAILED', failure: { kind: 'hpp_disabled' } });
  });

  it('the checkout cancels while the shopper is on the HPP: the page is disabled, CANCELLED', async () => {
    const fake = hppFake({ view: hppView('DISABLED') });
    const result = await run(fake.activities, hppInput(), async (handle) => {
      await handle.executeUpdate(cancelStepUpUpdate, { args: [{ reason: 'merchant_cancelled' }] });
    });
    expect(result).toMatchObject({ state: 'CANCELLED', cancellation: { reason: 'merchant_cancelled' } });
    expect(fake.calls.filter((c) => c.name === 'disableStepUpHppSession')).toHaveLength(1);
  });

  it('shopper timeout: ABANDONED (the page disabled), or DECLINED when the last attempt was declined', async () => {
    const waiting = hppFake({ view: hppView('IN_PROGRESS') });
    const abandoned = await run(waiting.activities, hppInput('NONE', { shopper_timeout_ms: 20 * 60_000 }));
    expect(abandoned).toMatchObject({ state: 'ABANDONED', failure: { kind: 'shopper_timeout' } });
    expect(Date.parse(abandoned.updated_at) - Date.parse(abandoned.started_at)).toBeGreaterThanOrEqual(20 * 60_000);
    expect(waiting.calls.filter((c) => c.name === 'disableStepUpHppSession')).toHaveLength(1);
    const declined = await run(hppFake({ view: hppView('FAILED') }).activities, hppInput('NONE', { shopper_timeout_ms: 20 * 60_000 }));
    expect(declined).toMatchObject({ state: 'DECLINED', failure: { kind: 'shopper_timeout' }, hpp: { status: 'FAILED' } });
  });

  it('completes when the shopper finished just as the timeout fell (the last read sees COMPLETED)', async () => {
    let disabled = false;
    const fake = fakeStepUpActivities({
      async readStepUpHppSession() {
        return disabled ? hppView('COMPLETED', { order_id: 'order-late' }) : hppView('IN_PROGRESS');
      },
      async disableStepUpHppSession() {
        disabled = true;
        throw new Error('HPP session is already COMPLETED');
      },
    });
    const result = await run(fake.activities, hppInput('PLACE_ORDER', { shopper_timeout_ms: 5 * 60_000 }));
    expect(result).toMatchObject({ state: 'COMPLETED', order: { order_id: 'order-late', placed_by: 'hpp' } });
  });

  it('HPP session expired: EXPIRED at its expires_at, or when Klarna no longer knows it (404)', async () => {
    const byTimer = await run(hppFake({ view: hppView('WAITING') }, {}, 10 * 60_000).activities, hppInput('NONE', { shopper_timeout_ms: 60 * 60_000 }));
    expect(byTimer).toMatchObject({ state: 'EXPIRED', failure: { kind: 'hpp_session_expired' } });
    const gone = fakeStepUpActivities({ readStepUpHppSession: klarnaRefusal({ kind: 'not_found', operation: 'read_hpp_session', httpStatus: 404 }) });
    expect(await run(gone.activities, hppInput())).toMatchObject({ state: 'EXPIRED', failure: { kind: 'hpp_session_expired' } });
  });
});
