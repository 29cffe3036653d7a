import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Activities } from '../../activities/index.js';
import type { HppSessionView, StepUpInput, StepUpStatus } from '../../contracts/step-up.js';
import { stepUpStatusQuery } from '../../workflows/definitions.js';
import { recordingCalls } from './tokenize-workflow-fixtures.js';

// For orchestration-only runs of the step-up recovery workflow (its tests and the capture of replay
// histories): fake activities recording each call and every status as stored, and an input.

export type FakeStepUpActivities = Pick<
  Activities,
  | 'createStepUpSession'
  | 'createStepUpHppSession'
  | 'readStepUpHppSession'
  | 'disableStepUpHppSession'
  | 'placeStepUpOrder'
  | 'recordPaymentMethodChanged'
  | 'recordFlowStatus'
  | 'collectPendingAuthorizations'
  | 'markEventsDelivered'
>;

/** The HPP session as the fakes show it unless a test says otherwise: waiting, 47 h to live (workflow time). */
export const hppView = (status: HppSessionView['status'], extra: Partial<HppSessionView> = {}): HppSessionView => ({ session_id: 'hpp-1', status, ...extra });

export function fakeStepUpActivities(overrides: Partial<FakeStepUpActivities> = {}, hppLifetimeMs = 47 * 3_600_000) {
  const calls: { name: string; args: unknown[] }[] = [];
  const recorded: StepUpStatus[] = [];
  const base: FakeStepUpActivities = {
    async createStepUpSession() {
      return { session_id: 'sess-1', client_token: 'client-token-1' };
    },
    async createStepUpHppSession() {
      // Server time (the test server skips time), not this machine's clock.
      const now = Context.current().info.currentAttemptScheduledTimestampMs;
      return { session_id: 'hpp-1', redirect_url: 'https://pay.example/hpp-1', expires_at: new Date(now + hppLifetimeMs).toISOString() };
    },
    async readStepUpHppSession() {
      return hppView('WAITING');
    },
    async disableStepUpHppSession() {},
    async placeStepUpOrder() {
      return { order_id: 'order-1', placed_by: 'merchant' as const, fraud_status: 'ACCEPTED' as const };
    },
    async recordPaymentMethodChanged() {},
    async recordFlowStatus(input) {
      recorded.push(structuredClone(input.status) as StepUpStatus);
    },
    async collectPendingAuthorizations() {
      return [];
    },
    async markEventsDelivered() {},
  };
  const activities = recordingCalls({ ...base, ...overrides }, calls);
  return { activities, calls, recorded };
}

export function stepUpInput(overrides: Partial<StepUpInput> = {}): StepUpInput {
  const chargeId = `charge-test-${randomUUID()}`;
  return {
    flow_id: `stepup-${chargeId}`,
    charge_id: chargeId,
    merchant_reference: 'renewal-2026-12',
    token_ref: 'ctok_0123456789abcdef0123456789abcdef',
    step_up_id: 'step-up-1',
    order: {
      purchase_currency: 'SEK',
      order_amount: 19900,
      order_tax_amount: 0,
      order_lines: [{ name: 'Coffee, monthly', quantity: 1, unit_price: 19900, total_amount: 19900 }],
      merchant_reference1: 'renewal-2026-12',
    },
    integration: 'sdk',
    shopper_timeout_ms: 30 * 60_000,
    ...overrides,
  };
}

export const hppInput = (mode: 'NONE' | 'PLACE_ORDER' | 'CAPTURE_ORDER' = 'NONE', overrides: Partial<StepUpInput> = {}) =>
  stepUpInput({ integration: 'hpp', hpp: { place_order_mode: mode, merchant_urls: {} }, ...overrides });

type StatusHandle = { query: (q: typeof stepUpStatusQuery) => Promise<StepUpStatus> };

/** Waits (in real time, polling the query) until the recovery's status satisfies `done`. */
export async function untilStepUp(handle: StatusHandle, done: (status: StepUpStatus) => boolean, what: string) {
  let status: StepUpStatus | undefined;
  for (let i = 0; i < 200; i++) {
    status = await handle.query(stepUpStatusQuery);
    if (done(status)) return status;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`recovery never showed ${what}; last status: ${JSON.stringify(status)}`);
}
