// Workflow interceptors for tracing (temporal/tracing.ts), bundled into the workflow sandbox only
// when tracing is on (worker/tracing.ts). Temporal's OpenTelemetry interceptors make a span of each
// workflow run, signal, update and scheduled activity, continuing the trace the API's client span
// started; workflow spans leave the sandbox through the worker's `exporter` sink (not called
// during replay). These interceptors add no command and no event: histories are the same with or
// without them (test/workflows/replay-histories-traced.test.ts).
import * as otel from '@opentelemetry/api';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow/index.js';
import { workflowInfo, type Next, type WorkflowExecuteInput, type WorkflowInboundCallsInterceptor, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

/** Names the flow on the workflow's span (it runs inside Temporal's, whose span is active). */
class FlowIdSpanAttribute implements WorkflowInboundCallsInterceptor {
  execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const { workflowId } = workflowInfo();
    otel.trace.getActiveSpan()?.setAttributes({ 'flow.id': workflowId, temporalWorkflowId: workflowId });
    return next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new OpenTelemetryInboundInterceptor(), new FlowIdSpanAttribute()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
