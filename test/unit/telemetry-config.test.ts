import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/env.js';

// WORKER_METRICS_ADDRESS, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME (config/env.ts): off
// unless set; a wrong value is refused at start with the variable named.
const telemetry = (env: Record<string, string>) => loadConfig(['telemetry'], env).telemetry;
const problems = (env: Record<string, string>) => {
  try {
    loadConfig(['telemetry'], env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('telemetry configuration', () => {
  it('is off by default: no worker metrics endpoint, no tracing', () => {
    expect(telemetry({})).toEqual({ workerMetricsAddress: undefined, otlpEndpoint: undefined, serviceName: undefined });
    expect(telemetry({ WORKER_METRICS_ADDRESS: '', OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toEqual({
      workerMetricsAddress: undefined,
      otlpEndpoint: undefined,
      serviceName: undefined,
    });
  });

  it('takes host:port for the metrics endpoint and an http(s) URL for the collector', () => {
    expect(
      telemetry({ WORKER_METRICS_ADDRESS: '0.0.0.0:9464', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SERVICE_NAME: 'payments-worker' }),
    ).toEqual({ workerMetricsAddress: '0.0.0.0:9464', otlpEndpoint: 'http://collector:4318', serviceName: 'payments-worker' });
    expect(telemetry({ WORKER_METRICS_ADDRESS: '[::1]:9464' }).workerMetricsAddress).toBe('[::1]:9464');
  });

  it('refuses a metrics address without a port, a port out of range, and a collector that is not http(s)', () => {
    expect(problems({ WORKER_METRICS_ADDRESS: '9464' })).toEqual([expect.stringMatching(/^WORKER_METRICS_ADDRESS: must be host:port/)]);
    expect(problems({ WORKER_METRICS_ADDRESS: 'localhost:70000' })).toEqual([expect.stringMatching(/^WORKER_METRICS_ADDRESS: port must be/)]);
    expect(problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317' })).toEqual([expect.stringMatching(/^OTEL_EXPORTER_OTLP_ENDPOINT: /)]);
  });
});

describe('worker configuration', () => {
  const worker = (env: Record<string, string>) => loadConfig(['worker'], env).worker;
  it('bounds the workflow cache by default, takes a number, refuses anything else by name', () => {
    expect(worker({})).toEqual({ maxCachedWorkflows: 1000 });
    expect(worker({ WORKER_MAX_CACHED_WORKFLOWS: '250' })).toEqual({ maxCachedWorkflows: 250 });
    expect(worker({ WORKER_MAX_CACHED_WORKFLOWS: '0' })).toEqual({ maxCachedWorkflows: 0 });
    expect(() => loadConfig(['worker'], { WORKER_MAX_CACHED_WORKFLOWS: 'many' })).toThrow(/WORKER_MAX_CACHED_WORKFLOWS/);
    expect(() => loadConfig(['worker'], { WORKER_MAX_CACHED_WORKFLOWS: '-1' })).toThrow(/WORKER_MAX_CACHED_WORKFLOWS/);
  });
});
