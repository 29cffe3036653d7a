// `npm run bench`: tokenize flows end to end on real servers, timed. Starts its own Temporal dev
// server (in memory) and FerretDB (temporary directory), the Klarna simulator, the API and a worker
// in this process, then runs BENCH_FLOWS tokenizations (default 100), BENCH_CONCURRENCY at a time
// (default 10), each: POST /v1/tokenizations → shopper approves at the simulator (Klarna's
// authorization callback reaches the API) → poll GET until COMPLETED. Prints latency percentiles
// and throughput. Numbers depend on the machine; they are for comparing changes, not asserting.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { killChildrenOnSignals } from '../stack/child-processes.js';
import { startFerretDb } from '../stack/ferretdb.js';
import { startInProcessApp } from '../stack/in-process-app.js';
import { getFreePort } from '../stack/ports.js';
import { startTemporalDevServer } from '../stack/temporal-dev-server.js';

const flows = positiveInt('BENCH_FLOWS', 100);
const concurrency = positiveInt('BENCH_CONCURRENCY', 10);

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench: ${name}=${raw} is not a positive integer\n`);
    process.exit(1);
  }
  return n;
}

async function json(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
function summary(name: string, values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const f = (v: number) => v.toFixed(0).padStart(6);
  return `${name.padEnd(34)}${f(percentile(sorted, 50))}${f(percentile(sorted, 95))}${f(percentile(sorted, 99))}${f(sorted.at(-1)!)}`;
}

Runtime.install({ logger: new DefaultLogger('WARN') });
killChildrenOnSignals();
const dataDir = await mkdtemp(join(tmpdir(), 'kts-bench-'));
const serversStarted = performance.now();
const [temporal, ferretdb] = await Promise.all([
  getFreePort().then((port) => startTemporalDevServer({ port, headless: true, echo: false, name: 'bench-temporal' })),
  getFreePort().then((port) => startFerretDb({ port, dataDir, echo: false, name: 'bench-ferretdb' })),
]);
const serversMs = performance.now() - serversStarted;
const appStarted = performance.now();
const app = await startInProcessApp({ temporalAddress: temporal.address, mongoUri: ferretdb.uri });
const appMs = performance.now() - appStarted;

const startMs: number[] = [];
const authorizeToCompleteMs: number[] = [];
const totalMs: number[] = [];
let failures = 0;
const runId = Date.now().toString(36);

async function oneFlow(i: number | 'warmup') {
  const reference = `bench-${runId}-${i}`;
  const t0 = performance.now();
  const started = await json('POST', `${app.apiUrl}/v1/tokenizations`, {
    merchant_reference: reference,
    purchase_country: 'SE',
    purchase_currency: 'SEK',
    locale: 'sv-SE',
    description: 'Benchmark subscription',
    order_lines: [{ type: 'digital', name: 'Monthly', quantity: 1, unit_price: 9900, total_amount: 9900 }],
  }, { 'idempotency-key': reference });
  const t1 = performance.now();
  if (started.status !== 201 || typeof started.body.session_id !== 'string') throw new Error(`start: ${started.status} ${JSON.stringify(started.body)}`);
  const approved = await json('POST', `${app.simulatorUrl}/_sim/sessions/${started.body.session_id}/authorize`, { outcome: 'approve' });
  if (approved.status !== 200) throw new Error(`authorize: ${approved.status}`);
  const t2 = performance.now();
  for (;;) {
    const r = await json('GET', `${app.apiUrl}/v1/tokenizations/${String(started.body.flow_id)}`);
    if (r.body.state === 'COMPLETED') break;
    if (r.body.state !== 'AWAITING_AUTHORIZATION' && r.body.state !== 'CREATING_TOKEN') throw new Error(`flow ended ${String(r.body.state)}`);
    if (performance.now() - t2 > 60_000) throw new Error('flow did not complete within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const t3 = performance.now();
  startMs.push(t1 - t0);
  authorizeToCompleteMs.push(t3 - t2);
  totalMs.push(t3 - t0);
}

// Warm-up: the first flow pays for connection set-up and the workflow bundle's first load.
await oneFlow('warmup').catch((err: unknown) => {
  process.stderr.write(`bench: warm-up flow failed: ${String(err)}\n`);
  process.exit(1);
});
startMs.length = authorizeToCompleteMs.length = totalMs.length = 0;

const runStarted = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(concurrency, flows) }, async () => {
    while (next < flows) {
      const i = next++;
      await oneFlow(i).catch((err: unknown) => {
        failures++;
        process.stderr.write(`bench: flow ${i}: ${String(err)}\n`);
      });
    }
  }),
);
const runMs = performance.now() - runStarted;

const stopStarted = performance.now();
const tokens = await app.mongo.db.collection('customer_tokens').countDocuments({ merchant_reference: { $regex: `^bench-${runId}-\\d+$` } });
await app.stop();
await Promise.allSettled([temporal.stop(), ferretdb.stop()]);
await rm(dataDir, { recursive: true, force: true });
const stopMs = performance.now() - stopStarted;

console.log(`\ntokenize end to end: ${flows} flows, ${concurrency} at a time, Node ${process.version}, ${(await import('node:os')).cpus().length} CPUs`);
console.log(`servers up ${serversMs.toFixed(0)} ms (Temporal dev server + FerretDB), app up ${appMs.toFixed(0)} ms (incl. workflow bundle), all stopped in ${stopMs.toFixed(0)} ms\n`);
console.log(`${'latency (ms)'.padEnd(34)}${'p50'.padStart(6)}${'p95'.padStart(6)}${'p99'.padStart(6)}${'max'.padStart(6)}`);
console.log(summary('start → session (201)', startMs));
console.log(summary('shopper approves → COMPLETED', authorizeToCompleteMs));
console.log(summary('whole flow', totalMs));
console.log(`\nthroughput ${(((flows - failures) / runMs) * 1000).toFixed(1)} flows/s; ${flows - failures} completed, ${failures} failed; ${tokens} tokens stored`);
if (failures || tokens !== flows) process.exit(1);
