import { fileURLToPath } from 'node:url';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/worker/index.js';
import type { WorkerOptions } from '@temporalio/worker';
import type { Tracing } from '../temporal/tracing.js';

/** The workflow interceptors module (bundled into the sandbox when tracing is on). */
export const workflowTracingInterceptorsPath = fileURLToPath(new URL('../temporal/workflow-tracing-interceptors.ts', import.meta.url));

/**
 * What a worker needs for tracing (temporal/tracing.ts): the workflow interceptors module, the
 * activity interceptors (a span per activity execution, child of the workflow's span that
 * scheduled it, active while the activity runs, so each Klarna call's span is its child) and the
 * sink through which workflow spans leave the sandbox. A prebuilt workflow bundle must have been
 * bundled with `workflowInterceptorModules: [workflowTracingInterceptorsPath]`.
 */
export function workerTracingOptions(tracing: Tracing): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  return {
    interceptors: {
      workflowModules: [workflowTracingInterceptorsPath],
      activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
