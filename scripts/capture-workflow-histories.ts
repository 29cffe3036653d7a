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
import type { CancellationReason } from '../contracts/flow-status.js';
import { cancelFlowUpdate, shopperAuthorizedSignal } from '../workflows/definitions.js';

// `npm run histories:capture`: runs each tokenize scenario once on the time-skipping test server
// (activities faked) and saves its event history to test/workflows/histories/. The replay test
// replays every saved history against the current workflow code, so a change that would break
// flows already running in production fails CI. Capture again only for a deliberate, versioned
// change of the workflow (patched() or a new workflow type), and keep the old files
// (`tokenizeWorkflow-unencrypted-*`: v1 before the codec; `tokenizeWorkflow-v1-*`: v1, encrypted).
// Payloads are encrypted as in production (temporal/payload-codec.ts), with the fixed test-only
// key of test/workflows/history-test-payload-keys.ts, which the replay test decrypts them with.

const outDir = join(repoRoot, 'test', 'workflows', 'histories');

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
  for (const scenario of scenarios) {
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
} finally {
  await env.teardown();
}
