import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleWorkflows } from './tokenize-workflow-fixtures.js';

// Determinism guard: every saved history (test/workflows/histories/, written by
// `npm run histories:capture`) must replay against the current workflow code. A change that
// would break runs already in flight (a new activity before an old one, a timer removed, a
// reordered command) fails here instead of in production; such changes need patched().
// protobufjs is a direct devDependency so that @temporalio/common and @temporalio/proto share one
// copy: historyFromJSON checks its types with instanceof and fails on two copies.

const historiesDir = join(import.meta.dirname, 'histories');
const files = readdirSync(historiesDir).filter((f) => f.endsWith('.json')).sort();

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
      ]),
    );
  });

  it.each(files)('%s', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(historiesDir, file), 'utf8')));
    const workflowType = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
    expect(workflowType, 'the history starts with its workflow type').toBe(file.split('-')[0]);
    // Throws DeterminismViolationError (or ReplayError) when the code no longer matches the history.
    await Worker.runReplayHistory({ workflowBundle, replayName: file }, history, file);
  });
});
