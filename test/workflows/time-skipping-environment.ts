import type { DataConverter } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { inject } from 'vitest';
import { registerSearchAttributes } from '../../temporal/register-search-attributes.js';
import { bundleWorkflows } from './tokenize-workflow-fixtures.js';

/**
 * What every workflow test file starts with: the time-skipping test server (the binary the global
 * setup installed), the product's search attributes registered on it, and the workflow bundle.
 */
export async function startTimeSkipping(dataConverter: DataConverter): Promise<{ env: TestWorkflowEnvironment; bundle: WorkflowBundleWithSourceMap }> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    client: { dataConverter },
    server: { executable: { type: 'existing-path', path: inject('temporalTestServerPath') } },
  });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return { env, bundle: await bundleWorkflows() };
}
