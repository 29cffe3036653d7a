import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEncryptionCodec, encryptingDataConverter } from '../../temporal/payload-codec.js';
import { startTracing, type Tracing } from '../../temporal/tracing.js';
import { workflowsPath } from '../../worker/create-worker.js';
import { workerTracingOptions, workflowTracingInterceptorsPath } from '../../worker/tracing.js';
import { HISTORY_TEST_ONLY_PAYLOAD_KEYS } from './history-test-payload-keys.js';

// Turning tracing on (OTEL_EXPORTER_OTLP_ENDPOINT) must not break a flow already running: a worker
// with the tracing interceptors (temporal/workflow-tracing-interceptors.ts) and the span sink
// replays every saved history (test/workflows/histories/, all recorded without tracing) as the
// worker without them does (replay-histories.test.ts). The interceptors add headers to commands,
// never a command or an event.

const historiesDir = join(import.meta.dirname, 'histories');
const files = readdirSync(historiesDir).filter((f) => f.endsWith('.json')).sort();
const dataConverter = encryptingDataConverter(createEncryptionCodec(HISTORY_TEST_ONLY_PAYLOAD_KEYS));
const exporter = new InMemorySpanExporter();
const silent = () => {};

let workflowBundle: WorkflowBundleWithSourceMap;
let tracing: Tracing;
beforeAll(async () => {
  tracing = startTracing({ serviceName: 'replay-test', exporter })!;
  workflowBundle = await bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules: [workflowTracingInterceptorsPath],
    logger: { log: silent, trace: silent, debug: silent, info: silent, warn: silent, error: silent },
  });
}, 120_000);
afterAll(() => tracing?.shutdown());

describe('saved workflow histories replay with tracing on', () => {
  it('the bundle carries the tracing interceptors', () => {
    expect(workflowBundle.code).toContain('RunWorkflow');
    expect(files.length).toBeGreaterThan(40);
  });

  it.each(files)('%s', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(historiesDir, file), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle, replayName: file, dataConverter, sinks: workerTracingOptions(tracing).sinks }, history, file);
  });
});
