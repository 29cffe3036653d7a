import { AsyncLocalStorage } from 'node:async_hooks';
import * as otel from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
// The client part only: the API process needs no worker code.
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client/index.js';
import type { WorkflowClientInterceptor } from '@temporalio/client';

// OpenTelemetry traces, from the API's call into Temporal through the workflow and its activities
// to each Klarna HTTP call (docs/performance.md, "Metrics and traces"). Off unless an OTLP endpoint
// is configured (OTEL_EXPORTER_OTLP_ENDPOINT, config/env.ts): then nothing is registered, the
// OpenTelemetry API stays a no-op, and neither the client nor the worker gets interceptors.
//
// One tracer provider per process, registered globally: the Temporal interceptors and the Klarna
// client find it through @opentelemetry/api. Span attributes name flows by their flow id and
// Klarna calls by operation, idempotency key and Klarna's correlation id: never a customer token,
// an authorization token, a client token or shopper data.

export interface Tracing {
  /** Workflow spans reach it through the worker's sink (temporal/workflow-tracing-interceptors.ts). */
  spanProcessor: SpanProcessor;
  resource: Resource;
  /** Exports what is buffered and unregisters; call on shutdown. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** `service.name` of every span this process makes (klarna-token-sagas-api, …-worker). */
  serviceName: string;
  /** OTLP/HTTP base URL (the collector's, e.g. http://127.0.0.1:4318): spans go to <endpoint>/v1/traces. */
  endpoint?: string;
  /** Instead of OTLP (tests): spans go to this exporter as they end. */
  exporter?: SpanExporter;
}

/** AsyncLocalStorage as OpenTelemetry's context manager, so the active span follows async calls. */
class AsyncLocalContextManager implements otel.ContextManager {
  private readonly storage = new AsyncLocalStorage<otel.Context>();
  active(): otel.Context {
    return this.storage.getStore() ?? otel.ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: otel.Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(context, () => fn.call(thisArg, ...args));
  }
  bind<T>(context: otel.Context, target: T): T {
    if (typeof target !== 'function') return target;
    const run = <R>(fn: () => R) => this.with(context, fn);
    return function (this: unknown, ...args: unknown[]) {
      return run(() => (target as (...a: unknown[]) => unknown).apply(this, args));
    } as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.storage.disable();
    return this;
  }
}

let active: Tracing | undefined;

/**
 * Registers this process's tracer provider, exporting to `endpoint` (OTLP/HTTP, batched) or to
 * `exporter` (each span as it ends). Returns undefined, registering nothing, when neither is given.
 */
export function startTracing(options: TracingOptions): Tracing | undefined {
  if (!options.endpoint && !options.exporter) return undefined;
  if (active) throw new Error('tracing is already started in this process');
  const resource = new Resource({ 'service.name': options.serviceName });
  const spanProcessor = options.exporter
    ? new SimpleSpanProcessor(options.exporter)
    : new BatchSpanProcessor(new OTLPTraceExporter({ url: `${options.endpoint!.replace(/\/+$/, '')}/v1/traces` }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({ contextManager: new AsyncLocalContextManager(), propagator: new W3CTraceContextPropagator() });
  const tracing: Tracing = {
    spanProcessor,
    resource,
    async shutdown() {
      if (active !== tracing) return;
      active = undefined;
      await provider.shutdown();
      otel.trace.disable();
      otel.context.disable();
      otel.propagation.disable();
    },
  };
  active = tracing;
  return tracing;
}

/** The Temporal client's interceptors: each start, update, signal and query as a span whose context travels in the headers. */
export function tracingClientInterceptors(tracing: Tracing | undefined): { workflow: WorkflowClientInterceptor[] } | undefined {
  return tracing ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined;
}

/** Span attribute naming the flow (= workflow id), on our own spans; Temporal's carry it as `temporalWorkflowId`. */
export const FLOW_ID_ATTRIBUTE = 'flow.id';
