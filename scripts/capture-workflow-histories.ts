import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { repoRoot, resolveToolPath } from '../stack/tool-paths.js';
import { registerSearchAttributes } from '../temporal/register-search-attributes.js';
import {
  bundleWorkflows,
  fakeTokenizeActivities,
  klarnaRefusal,
  tokenizeInput,
  untilState,
  type FakeTokenizeActivities,
} from '../test/workflows/tokenize-workflow-fixtures.js';
import '../test/support/quiet-temporal-runtime.js';
import { shopperAuthorizedSignal } from '../workflows/definitions.js';

// `npm run histories:capture`: runs each tokenize scenario once on the time-skipping test server
// (activities faked) and saves its event history to test/workflows/histories/. The replay test
// replays every saved history against the current workflow code, so a change that would break
// flows already running in production fails CI. Capture again only for a deliberate, versioned
// change of the workflow (patched() or a new workflow type), and keep the old files.

const outDir = join(repoRoot, 'test', 'workflows', 'histories');

interface Scenario {
  name: string;
  activities?: Partial<FakeTokenizeActivities>;
  abandonmentMs?: number;
  /** Signals to send once the flow waits for the shopper. */
  signals?: { authorization_token: string; session_id?: string; source: 'checkout' | 'klarna_callback' }[];
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
  { name: 'expired-not-found', signals: [{ authorization_token: 'auth-1', source: 'klarna_callback' }], activities: { createAndVaultCustomerToken: klarnaRefusal({ kind: 'authorization_not_found', operation: 'create_customer_token', httpStatus: 404, errorCode: 'NOT_FOUND' }) } },
  { name: 'failed-invalid-operation', signals: [{ authorization_token: 'auth-1', source: 'checkout' }], activities: { createAndVaultCustomerToken: klarnaRefusal({ kind: 'invalid_operation', operation: 'create_customer_token', httpStatus: 403, errorCode: 'INVALID_OPERATION' }) } },
  { name: 'failed-session-creation', activities: { createPaymentSession: klarnaRefusal({ kind: 'invalid_request', operation: 'create_session', httpStatus: 400, errorCode: 'BAD_VALUE' }) } },
];

const env = await TestWorkflowEnvironment.createTimeSkipping({
  server: { executable: { type: 'existing-path', path: resolveToolPath('temporal-test-server') } },
});
try {
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  const workflowBundle = await bundleWorkflows();
  await mkdir(outDir, { recursive: true });
  for (const scenario of scenarios) {
    const taskQueue = `capture-${scenario.name}`;
    const fake = fakeTokenizeActivities(scenario.activities);
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities: fake.activities });
    const args = tokenizeInput({ flow_id: `tokenize-${scenario.name}`, merchant_reference: scenario.name, abandonment_timeout_ms: scenario.abandonmentMs ?? 30 * 60_000 });
    const history = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start('tokenizeWorkflow', { taskQueue, workflowId: args.flow_id, args: [args] });
      if (scenario.signals) {
        await untilState(handle, 'AWAITING_AUTHORIZATION');
        for (const signal of scenario.signals) await handle.signal(shopperAuthorizedSignal, signal);
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
