import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { repoRoot, resolveToolPath } from '../stack/tool-paths.js';
import { createEncryptionCodec, encryptingDataConverter } from '../temporal/payload-codec.js';
import { registerSearchAttributes } from '../temporal/register-search-attributes.js';
import { HISTORY_TEST_ONLY_PAYLOAD_KEYS } from '../test/workflows/history-test-payload-keys.js';
import {
  bundleWorkflows,
  fakeCreatedToken,
  fakeTokenizeActivities,
  klarnaRefusal,
  tokenizeInput,
  untilState,
  type FakeTokenizeActivities,
} from '../test/workflows/tokenize-workflow-fixtures.js';
import '../test/support/quiet-temporal-runtime.js';
import type { Activities } from '../activities/index.js';
import type { ChargeInput } from '../contracts/charge.js';
import type { BuyAndTokenizeInput } from '../contracts/buy-and-tokenize.js';
import type { CancellationReason } from '../contracts/flow-status.js';
import {
  buyAndTokenizeInput,
  fakeBuyAndTokenizeActivities,
  untilBuyAndTokenizeState,
  type FakeBuyAndTokenizeActivities,
} from '../test/workflows/buy-and-tokenize-workflow-fixtures.js';
import {
  cancelFlowUpdate,
  cancelStepUpUpdate,
  cancelSubscriptionUpdate,
  changeSubscriptionUpdate,
  chargeNowUpdate,
  pauseSubscriptionUpdate,
  resumeSubscriptionUpdate,
  hppStatusSignal,
  shopperAuthorizedSignal,
  subscriptionStatusQuery,
} from '../workflows/definitions.js';
import type { SubscriptionInput } from '../contracts/subscription.js';
import type { HppSessionView, StepUpInput } from '../contracts/step-up.js';
import { fakeStepUpActivities, hppView, stepUpInput, untilStepUp, type FakeStepUpActivities } from '../test/workflows/step-up-workflow-fixtures.js';
import type { WorkflowHandle } from '@temporalio/client';

// `npm run histories:capture`: runs each tokenize scenario once on the time-skipping test server
// (activities faked) and saves its event history to test/workflows/histories/. The replay test
// replays every saved history against the current workflow code, so a change that would break
// flows already running in production fails CI. Capture again only for a deliberate, versioned
// change of the workflow (patched() or a new workflow type), and keep the old files
// (`tokenizeWorkflow-unencrypted-*`: v1 before the codec; `tokenizeWorkflow-v1-*`: v1, encrypted).
// Payloads are encrypted as in production (temporal/payload-codec.ts), with the fixed test-only
// key of test/workflows/history-test-payload-keys.ts, which the replay test decrypts them with.

const outDir = join(repoRoot, 'test', 'workflows', 'histories');
/** `npm run histories:capture -- <tokenize|charge|buy_and_tokenize|subscription|step_up>` captures one workflow type's histories only. */
const only = process.argv[2];

interface Scenario {
  name: string;
  activities?: Partial<FakeTokenizeActivities>;
  abandonmentMs?: number;
  /** Signals to send once the flow waits for the shopper. */
  signals?: { authorization_token: string; session_id?: string; source: 'checkout' | 'klarna_callback' }[];
  /** Cancel once the flow waits for the shopper. */
  cancel?: CancellationReason;
}

const scenarios: Scenario[] = [
  {
    name: 'completed-with-duplicates',
    signals: [
      { authorization_token: 'auth-x', session_id: 'other-session', source: 'klarna_callback' },
      { authorization_token: 'auth-1', session_id: 'sess-1', source: 'checkout' },
      { authorization_token: 'auth-1', session_id: 'sess-1', source: 'klarna_callback' },
    ],
  },
  { name: 'abandoned' },
  { name: 'expired-not-found', signals: [{ authorization_token: 'auth-1', source: 'klarna_callback' }], activities: { createCustomerToken: klarnaRefusal({ kind: 'authorization_not_found', operation: 'create_customer_token', httpStatus: 404, errorCode: 'NOT_FOUND' }) } },
  { name: 'failed-invalid-operation', signals: [{ authorization_token: 'auth-1', source: 'checkout' }], activities: { createCustomerToken: klarnaRefusal({ kind: 'invalid_operation', operation: 'create_customer_token', httpStatus: 403, errorCode: 'INVALID_OPERATION' }) } },
  {
    // A checkout authorization Klarna does not know is set aside; Klarna's callback completes the flow.
    name: 'completed-after-rejected-checkout-authorization',
    signals: [{ authorization_token: 'bogus', source: 'checkout' }],
    activities: {
      createCustomerToken: async (input) => {
        if (input.authorization_token === 'bogus') {
          return klarnaRefusal({ kind: 'authorization_not_found', operation: 'create_customer_token', httpStatus: 404, errorCode: 'NOT_FOUND' })();
        }
        return fakeCreatedToken;
      },
      collectPendingAuthorizations: async () => [{ authorization_token: 'auth-1', session_id: 'sess-1', source: 'klarna_callback', event_id: 'auth_evt1' }],
    },
  },
  {
    // No signal reaches the flow (Temporal was down when the callback came): the inbox has it.
    name: 'completed-from-inbox',
    activities: {
      collectPendingAuthorizations: async () => [{ authorization_token: 'auth-1', session_id: 'sess-1', source: 'klarna_callback', event_id: 'auth_evt1' }],
    },
  },
  { name: 'cancelled-shopper-declined', cancel: 'shopper_declined' },
  { name: 'failed-session-creation', activities: { createPaymentSession: klarnaRefusal({ kind: 'invalid_request', operation: 'create_session', httpStatus: 400, errorCode: 'BAD_VALUE' }) } },
];

const dataConverter = encryptingDataConverter(createEncryptionCodec(HISTORY_TEST_ONLY_PAYLOAD_KEYS));
const env = await TestWorkflowEnvironment.createTimeSkipping({
  server: { executable: { type: 'existing-path', path: resolveToolPath('temporal-test-server') } },
  client: { dataConverter },
});
try {
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  const workflowBundle = await bundleWorkflows();
  await mkdir(outDir, { recursive: true });
  for (const scenario of only && only !== 'tokenize' ? [] : scenarios) {
    const taskQueue = `capture-${scenario.name}`;
    const fake = fakeTokenizeActivities(scenario.activities);
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities: fake.activities, dataConverter });
    const args = tokenizeInput({ flow_id: `tokenize-${scenario.name}`, merchant_reference: scenario.name, abandonment_timeout_ms: scenario.abandonmentMs ?? 30 * 60_000 });
    const history = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
      if (scenario.signals || scenario.cancel) {
        await untilState(handle, 'AWAITING_AUTHORIZATION');
        for (const signal of scenario.signals ?? []) await handle.signal(shopperAuthorizedSignal, signal);
        if (scenario.cancel) await handle.executeUpdate(cancelFlowUpdate, { args: [{ reason: scenario.cancel }] });
      }
      const result = await handle.result();
      console.log(`${scenario.name}: ${result.state}`);
      return handle.fetchHistory();
    });
    await writeFile(join(outDir, `tokenizeWorkflow-${scenario.name}.json`), `${historyToJSON(history)}\n`);
  }

  // Token charges: every terminal path (placeTokenOrder faked).
  const placed = { order_id: 'order-1', fraud_status: 'ACCEPTED' as const, authorized_payment_method: { type: 'invoice' } };
  const chargeScenarios: { name: string; placeTokenOrder: Activities['placeTokenOrder'] }[] = [
    { name: 'completed', placeTokenOrder: async () => placed },
    {
      name: 'completed-after-lost-reply',
      placeTokenOrder: (() => {
        let attempts = 0;
        return async () => (++attempts === 1 ? klarnaRefusal({ kind: 'network', operation: 'create_token_order' })() : placed);
      })(),
    },
    { name: 'failed-token-cancelled', placeTokenOrder: klarnaRefusal({ kind: 'token_cancelled', operation: 'create_token_order', httpStatus: 403, errorCode: 'TOKEN_CANCELED' }) },
    {
      name: 'failed-step-up-required',
      placeTokenOrder: klarnaRefusal({ kind: 'step_up_required', operation: 'create_token_order', httpStatus: 403, errorCode: 'UNAVAILABLE_PAYMENT_METHOD', stepUpId: 'step-up-1' }),
    },
    { name: 'failed-deadline', placeTokenOrder: klarnaRefusal({ kind: 'server_error', operation: 'create_token_order', httpStatus: 503 }) },
  ];
  for (const scenario of only && only !== 'charge' ? [] : chargeScenarios) {
    const taskQueue = `capture-charge-${scenario.name}`;
    const fake = fakeTokenizeActivities({});
    const activities = { ...fake.activities, placeTokenOrder: scenario.placeTokenOrder };
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities, dataConverter });
    const flowId = `charge-${scenario.name}`;
    const input: ChargeInput = {
      flow_id: flowId,
      merchant_reference: scenario.name,
      token_ref: `ctok_${'a'.repeat(32)}`,
      customer_present: scenario.name.includes('step-up'),
      order: {
        purchase_currency: 'SEK',
        order_amount: 19900,
        order_tax_amount: 0,
        order_lines: [{ name: 'Coffee, monthly', quantity: 1, unit_price: 19900, total_amount: 19900 }],
        merchant_reference1: scenario.name,
      },
      retry_deadline_ms: 5 * 60_000,
    };
    const history = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start('chargeWorkflow', { taskQueue, workflowId: flowId, args: [input] });
      const result = await handle.result();
      console.log(`charge ${scenario.name}: ${result.state} ${result.failure?.kind ?? ''}`);
      return handle.fetchHistory();
    });
    await writeFile(join(outDir, `chargeWorkflow-${scenario.name}.json`), `${historyToJSON(history)}\n`);
  }

  // Buy and tokenize: every terminal path, each partial outcome among them.
  const notFound = (operation: 'create_customer_token' | 'create_order') =>
    klarnaRefusal({ kind: 'authorization_not_found', operation, httpStatus: 404, errorCode: 'NOT_FOUND' });
  const notTokenizable = klarnaRefusal({ kind: 'invalid_request', operation: 'create_customer_token', httpStatus: 400, errorCode: 'BAD_REQUEST' });
  const fromInbox = async () => [{ authorization_token: 'auth-1', session_id: 'sess-1', source: 'klarna_callback' as const, event_id: 'auth_evt1' }];
  const buyAndTokenizeScenarios: (Omit<Scenario, 'activities' | 'abandonmentMs'> & {
    activities?: Partial<FakeBuyAndTokenizeActivities>;
    input?: Partial<BuyAndTokenizeInput>;
  })[] = [
    { name: 'completed', signals: [{ authorization_token: 'auth-1', session_id: 'sess-1', source: 'klarna_callback' }] },
    { name: 'completed-from-inbox', activities: { collectPendingAuthorizations: fromInbox } },
    {
      name: 'completed-after-rejected-checkout-authorization',
      signals: [{ authorization_token: 'bogus', source: 'checkout' }],
      activities: {
        createCustomerToken: async (input) => (input.authorization_token === 'bogus' ? notFound('create_customer_token')() : fakeCreatedToken),
        collectPendingAuthorizations: fromInbox,
      },
    },
    {
      name: 'completed-without-token',
      input: { require_token: false },
      signals: [{ authorization_token: 'auth-1', source: 'klarna_callback' }],
      activities: { createCustomerToken: notTokenizable },
    },
    { name: 'failed-token-refused', signals: [{ authorization_token: 'auth-1', source: 'klarna_callback' }], activities: { createCustomerToken: notTokenizable } },
    {
      name: 'failed-order-refused-token-cancelled',
      signals: [{ authorization_token: 'auth-1', source: 'klarna_callback' }],
      activities: { placeAuthorizationOrder: klarnaRefusal({ kind: 'rejected', operation: 'create_order', httpStatus: 403, errorCode: 'REJECTED' }) },
    },
    { name: 'expired-between-token-and-order', signals: [{ authorization_token: 'auth-1', source: 'checkout' }], activities: { placeAuthorizationOrder: notFound('create_order') } },
    { name: 'expired-before-token', signals: [{ authorization_token: 'auth-1', source: 'klarna_callback' }], activities: { createCustomerToken: notFound('create_customer_token') } },
    { name: 'abandoned' },
    { name: 'cancelled-shopper-declined', cancel: 'shopper_declined' },
    { name: 'failed-session-creation', activities: { createPaymentSession: klarnaRefusal({ kind: 'invalid_request', operation: 'create_session', httpStatus: 400, errorCode: 'BAD_VALUE' }) } },
  ];
  for (const scenario of only && only !== 'buy_and_tokenize' ? [] : buyAndTokenizeScenarios) {
    const taskQueue = `capture-buy-and-tokenize-${scenario.name}`;
    const fake = fakeBuyAndTokenizeActivities(scenario.activities);
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities: fake.activities, dataConverter });
    const args = buyAndTokenizeInput({ flow_id: `buy-and-tokenize-${scenario.name}`, merchant_reference: scenario.name, ...scenario.input });
    const history = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start('buyAndTokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
      if (scenario.signals || scenario.cancel) {
        await untilBuyAndTokenizeState(handle, 'AWAITING_AUTHORIZATION');
        for (const signal of scenario.signals ?? []) await handle.signal(shopperAuthorizedSignal, signal);
        if (scenario.cancel) await handle.executeUpdate(cancelFlowUpdate, { args: [{ reason: scenario.cancel }] });
      }
      const result = await handle.result();
      console.log(`buy and tokenize ${scenario.name}: ${result.state}`);
      return handle.fetchHistory();
    });
    await writeFile(join(outDir, `buyAndTokenizeWorkflow-${scenario.name}.json`), `${historyToJSON(history)}\n`);
  }

  // Subscriptions: every way a subscription's run ends (cancelled by the merchant, cancelled by
  // dunning, continued as new). The renewal charges run as real child chargeWorkflows.
  const subscriptionScenarios: {
    name: string;
    answer: (chargeId: string) => 'ok' | 'payment_method_failed' | 'token_cancelled';
    input?: Partial<SubscriptionInput>;
    steer?: (handle: WorkflowHandle) => Promise<void>;
    firstRun?: boolean;
  }[] = [
    {
      // Paid, paused, resumed, changed, charged now (already paid), cancelled with its token.
      name: 'cancelled',
      answer: () => 'ok',
      steer: async (handle) => {
        for (let i = 0; i < 200 && (await handle.query(subscriptionStatusQuery)).periods[0]?.state !== 'PAID'; i++) await new Promise((r) => setTimeout(r, 50));
        await handle.executeUpdate(pauseSubscriptionUpdate, { args: [] });
        await handle.executeUpdate(resumeSubscriptionUpdate, { args: [{}] });
        await handle.executeUpdate(changeSubscriptionUpdate, { args: [{ order_amount: 24900, order_lines: [{ name: 'Coffee, large', quantity: 1, unit_price: 24900, total_amount: 24900 }] }] });
        await handle.executeUpdate(chargeNowUpdate, { args: [] });
        await handle.executeUpdate(cancelSubscriptionUpdate, { args: [{ cancel_token: true }] });
      },
    },
    {
      // Period 0 fails twice (dunning retries on days 1 and 3), then the token is cancelled: the policy cancels.
      name: 'cancelled-by-dunning',
      answer: (id) => (id.endsWith('-retry-2') ? 'token_cancelled' : 'payment_method_failed'),
      input: { dunning: { retry_after_days: [1, 3, 7], on_exhausted: 'CANCEL' } },
    },
    {
      // Two periods per run: the first run ends in continue-as-new (periods 0 and 1 paid).
      name: 'continued-as-new',
      answer: (id) => (/-(\d+)$/.exec(id)![1] === '2' ? 'token_cancelled' : 'ok'),
      input: { periods_per_run: 2, dunning: { retry_after_days: [1], on_exhausted: 'CANCEL' } },
      firstRun: true,
    },
  ];
  for (const scenario of only && only !== 'subscription' ? [] : subscriptionScenarios) {
    const taskQueue = `capture-subscription-${scenario.name}`;
    const stored = new Map<string, { seq: number; status: unknown }>();
    const activities = {
      placeTokenOrder: async (order: { charge_id: string }) => {
        const answer = scenario.answer(order.charge_id);
        if (answer === 'ok') return { order_id: `order-${order.charge_id}`, fraud_status: 'ACCEPTED' as const };
        return klarnaRefusal({ kind: answer, operation: 'create_token_order', httpStatus: 403, errorCode: answer === 'token_cancelled' ? 'TOKEN_CANCELED' : 'PAYMENT_METHOD_FAILED' })();
      },
      recordFlowStatus: async (write: { flow_id: string; seq: number; status: unknown }) => {
        if ((stored.get(write.flow_id)?.seq ?? 0) < write.seq) stored.set(write.flow_id, write);
      },
      storedChargeOutcome: async (charge: { charge_id: string }) => stored.get(charge.charge_id)?.status,
      cancelTokenAtKlarna: async (token: { token_ref: string }) => ({ token_ref: token.token_ref, status: 'CANCELLED' }),
    };
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities, dataConverter });
    const flowId = `sub-${scenario.name}`;
    const input: SubscriptionInput = {
      flow_id: flowId,
      merchant_reference: scenario.name,
      token_ref: `ctok_${'a'.repeat(32)}`,
      plan: {
        purchase_currency: 'SEK',
        order_amount: 19900,
        order_tax_amount: 0,
        order_lines: [{ name: 'Coffee, monthly', quantity: 1, unit_price: 19900, total_amount: 19900, subscription: { name: 'Coffee', interval: 'MONTH', interval_count: 1 } }],
      },
      interval: 'MONTH',
      interval_count: 1,
      billing_anchor: new Date(await env.currentTimeMs()).toISOString(),
      time_zone: 'Europe/Stockholm',
      catch_up: 'charge_latest',
      dunning: { retry_after_days: [1, 3, 7], on_exhausted: 'SUSPEND' },
      ...scenario.input,
    };
    const history = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start('subscriptionWorkflow', { taskQueue, workflowId: flowId, args: [input] });
      await scenario.steer?.(handle);
      const result = await handle.result();
      console.log(`subscription ${scenario.name}: ${result.state}`);
      return scenario.firstRun ? env.client.workflow.getHandle(flowId, handle.firstExecutionRunId).fetchHistory() : handle.fetchHistory();
    });
    await writeFile(join(outDir, `subscriptionWorkflow-${scenario.name}.json`), `${historyToJSON(history)}\n`);
  }

  // Step-up recovery (stepUpRecoveryWorkflow): every terminal path of both integrations.
  const hppUpdate = (status: HppSessionView['status'], i: number, extra: Partial<HppSessionView> = {}) =>
    hppView(status, { event_id: `evt-${i}`, updated_at: `2026-12-01T12:00:${String(i).padStart(2, '0')}Z`, ...extra });
  const sdkAuth = (token: string, source: 'checkout' | 'klarna_callback') => async (handle: WorkflowHandle) => {
    await handle.signal(shopperAuthorizedSignal, { authorization_token: token, session_id: 'sess-1', source });
  };
  const stepUpScenarios: {
    name: string;
    input?: Partial<StepUpInput>;
    activities?: Partial<FakeStepUpActivities>;
    hppLifetimeMs?: number;
    steer?: (handle: WorkflowHandle) => Promise<void>;
  }[] = [
    {
      name: 'sdk-completed',
      steer: async (handle) => {
        await sdkAuth('auth-1', 'klarna_callback')(handle);
        await sdkAuth('auth-1', 'checkout')(handle);
      },
    },
    { name: 'sdk-completed-from-inbox', activities: { collectPendingAuthorizations: async () => [{ authorization_token: 'auth-1', session_id: 'sess-1', source: 'klarna_callback', event_id: 'auth_evt1' }] } },
    { name: 'sdk-abandoned', input: { shopper_timeout_ms: 10 * 60_000 } },
    { name: 'sdk-expired', steer: sdkAuth('auth-1', 'klarna_callback'), activities: { placeStepUpOrder: klarnaRefusal({ kind: 'authorization_not_found', operation: 'create_order', httpStatus: 404, errorCode: 'NOT_FOUND' }) } },
    { name: 'sdk-declined', steer: sdkAuth('auth-1', 'klarna_callback'), activities: { placeStepUpOrder: klarnaRefusal({ kind: 'rejected', operation: 'create_order', httpStatus: 403, errorCode: 'REJECTED' }) } },
    { name: 'sdk-declined-in-widget', steer: async (handle) => void (await handle.executeUpdate(cancelStepUpUpdate, { args: [{ reason: 'shopper_declined' }] })) },
    {
      name: 'hpp-cancelled-by-checkout',
      input: { integration: 'hpp', hpp: { place_order_mode: 'NONE', merchant_urls: {} } },
      activities: { readStepUpHppSession: async () => hppView('DISABLED') },
      steer: async (handle) => void (await handle.executeUpdate(cancelStepUpUpdate, { args: [{ reason: 'merchant_cancelled' }] })),
    },
    { name: 'sdk-failed-session', activities: { createStepUpSession: klarnaRefusal({ kind: 'invalid_request', operation: 'create_session', httpStatus: 400, errorCode: 'BAD_VALUE' }) } },
    {
      name: 'hpp-none-completed-after-back-error-decline',
      input: { integration: 'hpp', hpp: { place_order_mode: 'NONE', merchant_urls: {} } },
      activities: { readStepUpHppSession: async () => hppUpdate('COMPLETED', 9, { authorization_token: 'auth-hpp' }) },
      steer: async (handle) => {
        for (const [i, status] of (['IN_PROGRESS', 'BACK', 'ERROR', 'FAILED', 'COMPLETED'] as const).entries()) {
          await handle.signal(hppStatusSignal, hppUpdate(status, i, status === 'COMPLETED' ? { authorization_token: 'auth-hpp' } : {}));
        }
      },
    },
    {
      name: 'hpp-place-order-completed-by-polling',
      input: { integration: 'hpp', hpp: { place_order_mode: 'PLACE_ORDER', merchant_urls: {} } },
      activities: { readStepUpHppSession: async () => hppView('COMPLETED', { order_id: 'order-hpp', klarna_reference: 'ab12cd34' }) },
    },
    {
      name: 'hpp-cancelled',
      input: { integration: 'hpp', hpp: { place_order_mode: 'NONE', merchant_urls: {} } },
      activities: { readStepUpHppSession: async () => hppView('CANCELLED') },
      steer: async (handle) => handle.signal(hppStatusSignal, hppUpdate('CANCELLED', 1)),
    },
    { name: 'hpp-disabled', input: { integration: 'hpp', hpp: { place_order_mode: 'NONE', merchant_urls: {} } }, activities: { readStepUpHppSession: async () => hppView('DISABLED') } },
    { name: 'hpp-abandoned', input: { integration: 'hpp', hpp: { place_order_mode: 'CAPTURE_ORDER', merchant_urls: {} }, shopper_timeout_ms: 20 * 60_000 }, activities: { readStepUpHppSession: async () => hppView('IN_PROGRESS') } },
    { name: 'hpp-declined', input: { integration: 'hpp', hpp: { place_order_mode: 'NONE', merchant_urls: {} }, shopper_timeout_ms: 20 * 60_000 }, activities: { readStepUpHppSession: async () => hppView('FAILED') } },
    {
      name: 'hpp-session-expired',
      input: { integration: 'hpp', hpp: { place_order_mode: 'NONE', merchant_urls: {} }, shopper_timeout_ms: 60 * 60_000 },
      hppLifetimeMs: 10 * 60_000,
    },
    {
      name: 'hpp-session-not-found',
      input: { integration: 'hpp', hpp: { place_order_mode: 'NONE', merchant_urls: {} } },
      activities: { readStepUpHppSession: klarnaRefusal({ kind: 'not_found', operation: 'read_hpp_session', httpStatus: 404, errorCode: 'NOT_FOUND' }) },
    },
  ];
  for (const scenario of only && only !== 'step_up' ? [] : stepUpScenarios) {
    const taskQueue = `capture-step-up-${scenario.name}`;
    const fake = fakeStepUpActivities(scenario.activities, scenario.hppLifetimeMs);
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities: fake.activities, dataConverter });
    const input = stepUpInput({ flow_id: `stepup-charge-${scenario.name}`, charge_id: `charge-${scenario.name}`, merchant_reference: scenario.name, ...scenario.input });
    const history = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start('stepUpRecoveryWorkflow', { taskQueue, workflowId: input.flow_id, args: [input] });
      if (scenario.steer) {
        await untilStepUp(handle, (status) => status.state !== 'CREATING_SESSION', 'waiting for the shopper');
        await scenario.steer(handle);
      }
      const result = await handle.result();
      console.log(`step-up ${scenario.name}: ${result.state} ${result.failure?.kind ?? ''}`);
      return handle.fetchHistory();
    });
    await writeFile(join(outDir, `stepUpRecoveryWorkflow-${scenario.name}.json`), `${historyToJSON(history)}\n`);
  }
} finally {
  await env.teardown();
}
