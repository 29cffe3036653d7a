import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEncryptionCodec, ENCRYPTED_ENCODING, encryptingDataConverter } from '../../temporal/payload-codec.js';
import { HISTORY_TEST_ONLY_PAYLOAD_KEYS } from './history-test-payload-keys.js';
import { bundleWorkflows } from './tokenize-workflow-fixtures.js';

// Determinism guard: every saved history (test/workflows/histories/, written by
// `npm run histories:capture`) must replay against the current workflow code. A change that
// would break runs already in flight (a new activity before an old one, a timer removed, a
// reordered command) fails here instead of in production; such changes need patched().
// protobufjs is a direct devDependency so that @temporalio/common and @temporalio/proto share one
// copy: historyFromJSON checks its types with instanceof and fails on two copies.
// Payloads: histories captured since the payload codec are encrypted with the fixed test-only key
// (history-test-payload-keys.ts) and replay through the codec; `*-unencrypted-*` ones were written
// before it and replay through its pass-through, as runs started before the codec do.

const historiesDir = join(import.meta.dirname, 'histories');
const files = readdirSync(historiesDir).filter((f) => f.endsWith('.json')).sort();
const dataConverter = encryptingDataConverter(createEncryptionCodec(HISTORY_TEST_ONLY_PAYLOAD_KEYS));
const encryptedEncoding = Buffer.from(ENCRYPTED_ENCODING).toString('base64');

let workflowBundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  workflowBundle = await bundleWorkflows();
}, 120_000);

describe('saved workflow histories replay on the current code', () => {
  it('has a history for every terminal path of the tokenize flow', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'tokenizeWorkflow-abandoned.json',
        'tokenizeWorkflow-completed-with-duplicates.json',
        'tokenizeWorkflow-expired-not-found.json',
        'tokenizeWorkflow-failed-invalid-operation.json',
        'tokenizeWorkflow-failed-session-creation.json',
        'tokenizeWorkflow-cancelled-shopper-declined.json',
        'tokenizeWorkflow-completed-after-rejected-checkout-authorization.json',
        'tokenizeWorkflow-completed-from-inbox.json',
        // The frozen v1 code (workflows/legacy/), before and after the payload codec.
        'tokenizeWorkflow-v1-completed-with-duplicates.json',
        'tokenizeWorkflow-unencrypted-completed-with-duplicates.json',
        'chargeWorkflow-completed.json',
        'chargeWorkflow-completed-after-lost-reply.json',
        'chargeWorkflow-failed-token-cancelled.json',
        'chargeWorkflow-failed-step-up-required.json',
        'chargeWorkflow-failed-deadline.json',
      ]),
    );
  });

  it('has a history for every terminal path of the buy-and-tokenize flow, each partial outcome included', () => {
    const states = ['completed', 'completed-without-token', 'failed-token-refused', 'failed-order-refused-token-cancelled', 'expired-between-token-and-order'];
    const more = ['expired-before-token', 'abandoned', 'cancelled-shopper-declined', 'failed-session-creation', 'completed-from-inbox'];
    expect(files).toEqual(expect.arrayContaining([...states, ...more].map((path) => `buyAndTokenizeWorkflow-${path}.json`)));
  });

  it('has a history for every way a subscription run ends', () => {
    const ends = ['cancelled', 'cancelled-by-dunning', 'continued-as-new'];
    expect(files).toEqual(expect.arrayContaining(ends.map((end) => `subscriptionWorkflow-${end}.json`)));
  });

  it('has a history for every terminal path of the step-up recovery, both integrations', () => {
    const sdk = ['completed', 'completed-from-inbox', 'abandoned', 'expired', 'declined', 'declined-in-widget', 'failed-session'].map((p) => `sdk-${p}`);
    const hpp = ['none-completed-after-back-error-decline', 'place-order-completed-by-polling', 'cancelled', 'disabled', 'abandoned', 'declined', 'session-expired', 'session-not-found', 'cancelled-by-checkout'].map((p) => `hpp-${p}`);
    expect(files).toEqual(expect.arrayContaining([...sdk, ...hpp].map((path) => `stepUpRecoveryWorkflow-${path}.json`)));
  });

  it('keeps histories from before the payload codec (unencrypted) and encrypted ones', () => {
    const unencrypted = files.filter((f) => f.includes('-unencrypted-'));
    expect(unencrypted.length, 'histories written before the codec').toBeGreaterThan(0);
    for (const file of files) {
      const raw = readFileSync(join(historiesDir, file), 'utf8');
      expect(raw.includes(encryptedEncoding), `${file} has encrypted payloads`).toBe(!unencrypted.includes(file));
    }
  });

  it('covers both tokenize code paths: the current one (patch marker first) and the frozen v1 one (no marker)', () => {
    const legacy = (f: string) => f.includes('-unencrypted-') || f.includes('-v1-');
    for (const file of files.filter((f) => f.startsWith('tokenizeWorkflow-'))) {
      const events = (JSON.parse(readFileSync(join(historiesDir, file), 'utf8')) as { events: { eventType: string }[] }).events;
      const firstCommand = events.find((e) => !/WORKFLOW_(EXECUTION_STARTED|TASK_)/.test(e.eventType))?.eventType;
      expect(firstCommand === 'EVENT_TYPE_MARKER_RECORDED', `${file}: patch marker first`).toBe(!legacy(file));
    }
    expect(files.filter(legacy).length).toBeGreaterThanOrEqual(10);
  });

  it('covers status writes before (remote activity) and after the local-status-writes patch (local activity)', () => {
    // Files with a version tag were captured before the patch; the untagged ones are current.
    const beforePatch = (f: string) => /-(unencrypted|v1|v2)-/.test(f);
    const remoteStatusWrites = (file: string) => {
      const raw = readFileSync(join(historiesDir, file), 'utf8');
      return /"activityType":\{"name":"(recordFlowStatus|recordFlowState)"\}/.test(raw.replace(/\s+/g, ''));
    };
    const checked = files.filter((f) => f.startsWith('tokenizeWorkflow-') || f.startsWith('chargeWorkflow-'));
    for (const file of checked) expect(remoteStatusWrites(file), `${file}: remote status writes`).toBe(beforePatch(file));
    expect(checked.filter(beforePatch).length).toBeGreaterThanOrEqual(20);
    expect(checked.filter((f) => !beforePatch(f)).length).toBeGreaterThanOrEqual(13);
  });

  it('covers inbox reads every minute (-v3-), every 5 minutes (-v4-, patch inbox-check-5min) and rarely (current, inbox-check-rare)', () => {
    const inboxReads = (file: string) => (readFileSync(join(historiesDir, file), 'utf8').match(/"name":\s*"collectPendingAuthorizations"/g) ?? []).length;
    // Their abandoned waits: 30 minutes (one read now, at 10), and 10 for step-up (it ends as the first read is due).
    const readsNow = { 'tokenizeWorkflow-': 1, 'buyAndTokenizeWorkflow-': 1, 'stepUpRecoveryWorkflow-sdk-': 0 };
    for (const [flow, expectedNow] of Object.entries(readsNow)) {
      const tagged = (tag: string) => inboxReads(`${flow.replace(/-(sdk-)?$/, `-${tag}-$1`)}abandoned.json`);
      const [everyMinute, everyFiveMinutes, rare] = [tagged('v3'), tagged('v4'), inboxReads(`${flow}abandoned.json`)];
      // The same abandonment wait: fewer reads with each patch.
      expect(rare, `${flow}abandoned: inbox reads now`).toBe(expectedNow);
      expect(everyFiveMinutes, `${flow}abandoned: inbox reads with inbox-check-5min`).toBeGreaterThanOrEqual(2 * rare);
      expect(everyMinute, `${flow}abandoned: inbox reads before inbox-check-5min`).toBeGreaterThanOrEqual(2 * everyFiveMinutes);
    }
  });

  it.each(files)('%s', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(historiesDir, file), 'utf8')));
    const workflowType = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
    expect(workflowType, 'the history starts with its workflow type').toBe(file.split('-')[0]);
    // Throws DeterminismViolationError (or ReplayError) when the code no longer matches the history.
    await Worker.runReplayHistory({ workflowBundle, replayName: file, dataConverter }, history, file);
  });
});
