import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import type { Tracing } from '../temporal/tracing.js';
import { workerTracingOptions } from './tracing.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** The payload codec's converter (temporal/payload-codec.ts): the same as every client's. */
  dataConverter: DataConverter;
  /** Tests pass a prebuilt bundle to skip bundling per test. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Flows kept in the worker's cache (config WORKER_MAX_CACHED_WORKFLOWS); the SDK's default (from the heap size) when unset. */
  maxCachedWorkflows?: number;
  /** Tracing (temporal/tracing.ts): interceptors and the workflow span sink; none when off. A prebuilt bundle must include worker/tracing.ts's interceptors module. */
  tracing?: Tracing;
}

/** The one worker: every workflow type and every activity, on one task queue. */
export function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createActivities(options.deps),
    dataConverter: options.dataConverter,
    ...(options.maxCachedWorkflows === undefined ? {} : { maxCachedWorkflows: options.maxCachedWorkflows }),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    ...(options.tracing ? workerTracingOptions(options.tracing) : {}),
  });
}
