import type { DataConverter } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, inject } from 'vitest';
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

/**
 * The same for a whole test file: started before its tests, torn down after them. `env` and
 * `bundle` are there once the tests run.
 */
export function useTimeSkippingEnvironment(dataConverter: DataConverter): { readonly env: TestWorkflowEnvironment; readonly bundle: WorkflowBundleWithSourceMap } {
  let started: { env: TestWorkflowEnvironment; bundle: WorkflowBundleWithSourceMap } | undefined;
  beforeAll(async () => {
    started = await startTimeSkipping(dataConverter);
  }, 120_000);
  afterAll(async () => {
    await started?.env.teardown();
  });
  const get = () => {
    if (!started) throw new Error('the time-skipping environment is not started yet (use it inside tests)');
    return started;
  };
  return {
    get env() {
      return get().env;
    },
    get bundle() {
      return get().bundle;
    },
  };
}
