// `npm run bench:waiting [-- --waiting N --concurrency C --samples S --settle SECONDS --json out.json
//   --checkpoints 2500,5000,7500 --checkpoint-samples 10 --max-minutes M]`:
// what N tokenize flows waiting for their shoppers cost (issue 15). On its own servers: a Temporal
// dev server in memory, FerretDB in a temporary directory, the Klarna simulator (in this process),
// and the shipped API and worker as their own processes (`api/main.ts`, `worker/main.ts`), so each
// one's memory can be read from /proc/<pid>/status.
//
//   1. before: RSS of the worker, the API, Temporal and FerretDB; the latency of S charges
//      (POST /v1/charges?wait=20s) and S tokenizations (POST → the shopper approves → GET ?wait
//      until COMPLETED; the start alone is reported too), one at a time;
//   2. N tokenizations started through the API (C at a time) and left waiting for the shopper, with
//      the same measurement (fewer samples) at each checkpoint on the way; --max-minutes stops the
//      starts early (a saturated machine) and measures with the flows started by then;
//   3. after SETTLE seconds: the same RSS and latencies with the N flows waiting, and the CPU each
//      process used meanwhile (a waiting flow reads its inbox at 5 s doubling to every 5 minutes: an activity each).
// Numbers depend on the machine and what else runs on it.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startKlarnaSimulator } from '../klarna-simulator/server.js';
import { collections, connectMongo } from '../persistence/mongo.js';
import { createTokenVault } from '../persistence/token-vault.js';
import { killChildrenOnSignals, spawnChild, type ManagedChild } from '../stack/child-processes.js';
import { startFerretDb } from '../stack/ferretdb.js';
import { simulatorCredentials } from '../stack/in-process-app.js';
import { getFreePort, waitForPort } from '../stack/ports.js';
import { startTemporalDevServer } from '../stack/temporal-dev-server.js';
import { vaultSimulatorToken } from '../stack/vaulted-token.js';
import { repoRoot } from '../stack/tool-paths.js';
import { ephemeralPayloadKeys, formatPayloadKeys } from '../temporal/payload-codec.js';
import { cliOption, cpuSeconds, fail, json, percentile, rssMiB } from './bench-support.js';
import { appProcessEnv } from '../stack/app-process-env.js';

const args = process.argv.slice(2);
const option = (name: string) => cliOption(args, name);
const waiting = Number(option('waiting') ?? process.env.BENCH_WAITING ?? 10_000);
const concurrency = Number(option('concurrency') ?? 8);
const samples = Number(option('samples') ?? 20);
const settleSeconds = Number(option('settle') ?? 60);
const checkpointSamples = Number(option('checkpoint-samples') ?? 10);
const checkpoints = (option('checkpoints') ?? '2500,5000,7500').split(',').filter(Boolean).map(Number);
const maxMinutes = Number(option('max-minutes') ?? Infinity);
if (checkpoints.some((c) => !Number.isInteger(c) || c < 1) || !Number.isInteger(checkpointSamples) || checkpointSamples < 1) fail('--checkpoints and --checkpoint-samples take positive integers');
if (!(maxMinutes > 0)) fail('--max-minutes takes a positive number');
for (const [name, value] of Object.entries({ waiting, concurrency, samples })) {
  if (!Number.isInteger(value) || value < 1) fail(`--${name} takes a positive integer`);
}
if (!Number.isFinite(settleSeconds) || settleSeconds < 0) fail('--settle takes seconds (0 or more)');

const log = (message: string) => process.stdout.write(`bench: ${message}\n`);

// ---- servers and processes ---------------------------------------------------------------------

killChildrenOnSignals();
const dataDir = await mkdtemp(join(tmpdir(), 'kts-bench-waiting-'));
const [temporal, ferretdb] = await Promise.all([
  getFreePort().then((port) => startTemporalDevServer({ port, headless: true, echo: false, name: 'bench-temporal' })),
  getFreePort().then((port) => startFerretDb({ port, dataDir, echo: false, name: 'bench-ferretdb' })),
]);
const simulator = await startKlarnaSimulator({ ...simulatorCredentials, port: 0, logger: false });
const suffix = randomUUID().slice(0, 8);
const database = `bench_waiting_${suffix}`;
const tokenKey = randomBytes(32);
const apiPort = await getFreePort();
const apiUrl = `http://127.0.0.1:${apiPort}`;
const appEnv: NodeJS.ProcessEnv = {
  ...appProcessEnv({
    temporalAddress: temporal.address,
    taskQueue: `bench-waiting-${suffix}`,
    mongoUri: ferretdb.uri,
    database,
    simulatorUrl: simulator.url,
    apiPort,
    callbackSecret: `cb-${randomBytes(16).toString('hex')}`,
    tokenKey,
    payloadKeys: formatPayloadKeys(ephemeralPayloadKeys()),
  }),
  // The waiting flows must not end during the run.
  FLOW_ABANDONMENT_TIMEOUT: '6h',
  RATE_LIMIT_CHECKOUT_PER_MINUTE: '0',
  RATE_LIMIT_CALLBACKS_PER_MINUTE: '0',
  LOG_LEVEL: 'warn',
};
const node = (name: string, entry: string): ManagedChild =>
  spawnChild(name, process.execPath, ['--import', 'tsx', entry], { cwd: repoRoot, env: appEnv, echo: false, graceMs: 15_000 });
const worker = node('bench-worker', 'worker/main.ts');
const api = node('bench-api', 'api/main.ts');
const processes = { worker: worker.process.pid!, api: api.process.pid!, temporal: temporal.child.process.pid!, ferretdb: ferretdb.child.process.pid! };

/** A worker that died (it did, at ~2,200 waiting flows on a 2-core machine: docs/performance.md) ends the run: nothing would complete. */
function assertWorkerAlive(): void {
  if (worker.hasExited()) throw new Error(`the worker exited; its last output:\n${worker.recentOutput().split('\n').slice(-15).join('\n')}`);
}

async function shutdown() {
  await Promise.allSettled([api.stop(), worker.stop()]);
  await simulator.close();
  await Promise.allSettled([temporal.stop(), ferretdb.stop()]);
  await rm(dataDir, { recursive: true, force: true });
}

// ---- the flows -------------------------------------------------------------------------------

const orderLines = [{ type: 'digital' as const, name: 'Monthly', quantity: 1, unit_price: 9900, total_amount: 9900 }];
const tokenizeBody = (reference: string) => ({
  merchant_reference: reference,
  purchase_country: 'SE',
  purchase_currency: 'SEK',
  locale: 'sv-SE',
  description: 'Benchmark subscription',
  order_lines: orderLines,
});

/** Starts a tokenization. `slow`: the API answered 202 (Temporal took longer than its 10 s start deadline); the flow exists and goes on. */
async function startTokenize(reference: string, allowSlow = false): Promise<{ flowId: string; sessionId: string; slow: boolean }> {
  const started = await json('POST', `${apiUrl}/v1/tokenizations`, tokenizeBody(reference), { 'idempotency-key': reference });
  if (allowSlow && started.status === 202) return { flowId: String(started.body.flow_id), sessionId: '', slow: true };
  if (started.status !== 201 || started.body.state !== 'AWAITING_AUTHORIZATION') throw new Error(`start: ${started.status} ${JSON.stringify(started.body)}`);
  return { flowId: String(started.body.flow_id), sessionId: String(started.body.session_id), slow: false };
}

/** A whole tokenization as a checkout sees it; the start's own latency too. */
async function tokenize(reference: string): Promise<{ startMs: number; totalMs: number }> {
  const t0 = performance.now();
  const start = await startTokenize(reference, true);
  let sessionId = start.sessionId;
  // Slower than the API's start deadline (202): the session comes with the stored status.
  while (!sessionId) {
    assertWorkerAlive();
    const r = await json('GET', `${apiUrl}/v1/tokenizations/${start.flowId}?wait=20s`);
    if (r.body.session_id) sessionId = String(r.body.session_id);
    else if (r.body.state !== 'CREATING_SESSION') throw new Error(`flow ${start.flowId}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  const flowId = start.flowId;
  const startMs = performance.now() - t0;
  const approved = await json('POST', `${simulator.url}/_sim/sessions/${sessionId}/authorize`, { outcome: 'approve' });
  if (approved.status !== 200) throw new Error(`authorize: ${approved.status}`);
  for (let state = 'AWAITING_AUTHORIZATION'; state !== 'COMPLETED'; ) {
    assertWorkerAlive();
    const r = await json('GET', `${apiUrl}/v1/tokenizations/${flowId}?wait=20s`);
    state = String(r.body.state);
    if (!['AWAITING_AUTHORIZATION', 'CREATING_TOKEN', 'COMPLETED'].includes(state)) throw new Error(`flow ${flowId} ended ${state}`);
  }
  return { startMs, totalMs: performance.now() - t0 };
}

const mongo = await connectMongo({ uri: ferretdb.uri, database });
// As the dev stack does: the _id index FerretDB's lookups can use (stack/ferretdb-id-index.ts).
await ferretdb.indexIdLookups(database);
const vault = createTokenVault(tokenKey);

async function charge(tokenRef: string, reference: string): Promise<number> {
  const t0 = performance.now();
  const r = await json(
    'POST',
    `${apiUrl}/v1/charges?wait=20s`,
    { token_ref: tokenRef, purchase_currency: 'SEK', order_amount: 9900, order_lines: orderLines, merchant_reference: reference, customer_present: false },
    { 'idempotency-key': reference },
  );
  // Slower than ?wait (202): wait on for the outcome, as a caller would.
  for (let last = r; last.body.state !== 'COMPLETED'; ) {
    assertWorkerAlive();
    if (![201, 202, 200].includes(last.status) || last.body.state === 'FAILED') throw new Error(`charge: ${last.status} ${JSON.stringify(last.body)}`);
    last = await json('GET', `${apiUrl}/v1/charges/${r.body.flow_id}?wait=20s`);
  }
  return performance.now() - t0;
}


interface Phase {
  rssMiB: Record<keyof typeof processes, number>;
  chargeMs: { p50: number; p99: number; max: number };
  tokenizeStartMs: { p50: number; p99: number; max: number };
  tokenizeMs: { p50: number; p99: number; max: number };
}
const stats = (values: number[]) => ({ p50: percentile(values, 50), p99: percentile(values, 99), max: Math.max(...values) });
const rssNow = () => Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, rssMiB(pid)])) as Phase['rssMiB'];

/** RSS, then S charges and S tokenizations, one at a time. */
async function measurePhase(tag: string, tokenRef: string, samples: number): Promise<Phase> {
  const rss = rssNow();
  const charges: number[] = [];
  const starts: number[] = [];
  const tokenizations: number[] = [];
  for (let i = 0; i < samples; i++) charges.push(await charge(tokenRef, `bench-charge-${suffix}-${tag}-${i}`));
  for (let i = 0; i < samples; i++) {
    const { startMs, totalMs } = await tokenize(`bench-tok-${suffix}-${tag}-${i}`);
    starts.push(startMs);
    tokenizations.push(totalMs);
  }
  return { rssMiB: rss, chargeMs: stats(charges), tokenizeStartMs: stats(starts), tokenizeMs: stats(tokenizations) };
}

const fmt = (n: number) => n.toFixed(0).padStart(7);
function printPhase(label: string, phase: Phase) {
  log(`${label}: RSS MiB worker ${phase.rssMiB.worker.toFixed(0)}, API ${phase.rssMiB.api.toFixed(0)}, Temporal ${phase.rssMiB.temporal.toFixed(0)}, FerretDB ${phase.rssMiB.ferretdb.toFixed(0)}`);
  for (const [name, s] of [['charge', phase.chargeMs], ['tokenize start', phase.tokenizeStartMs], ['tokenize whole', phase.tokenizeMs]] as const) {
    log(`${label}: ${name.padEnd(15)} p50 ${fmt(s.p50)} ms  p99 ${fmt(s.p99)} ms  max ${fmt(s.max)} ms`);
  }
}

try {
  await waitForPort('127.0.0.1', apiPort, 90_000);
  log(`Node ${process.version}, ${cpus().length} CPUs; ${waiting} waiting flows, ${concurrency} starts at a time, ${samples} samples, settle ${settleSeconds} s`);
  // Warm-up: the worker bundles its workflows before it polls; the first flow waits for that.
  const { tokenRef } = await vaultSimulatorToken(simulator.url, vault, mongo.db, 'bench');
  await tokenize(`bench-warmup-${suffix}`);
  await charge(tokenRef, `bench-warmup-charge-${suffix}`);

  const before = await measurePhase('before', tokenRef, samples);
  printPhase('before', before);

  log(`starting ${waiting} tokenizations that wait for the shopper ...`);
  const started = performance.now();
  const deadline = started + maxMinutes * 60_000;
  let next = 0;
  let failed = 0;
  let slow = 0;
  let lastReport = started;
  const startLatencies: number[] = [];
  const elapsed = () => (performance.now() - started) / 1000;
  /** Starts flows, `concurrency` at a time, until `target` are started or the time is up. */
  const startUntil = (target: number) =>
    Promise.all(
      Array.from({ length: Math.min(concurrency, target - next) }, async () => {
        while (next < target && performance.now() < deadline) {
          assertWorkerAlive();
          const i = next++;
          const t0 = performance.now();
          try {
            if ((await startTokenize(`bench-wait-${suffix}-${i}`, true)).slow) slow++;
            startLatencies.push(performance.now() - t0);
          } catch (err) {
            failed++;
            if (failed <= 5) process.stderr.write(`bench: waiting flow ${i}: ${String(err)}\n`);
          }
          const done = startLatencies.length + failed;
          if (done % 500 === 0 && performance.now() - lastReport > 1000) {
            lastReport = performance.now();
            const recent = startLatencies.slice(-500);
            log(
              `  ${done} started in ${elapsed().toFixed(0)} s; last 500: start p50 ${percentile(recent, 50).toFixed(0)} ms, p99 ${percentile(recent, 99).toFixed(0)} ms, ` +
                `${slow} answered 202 so far; RSS MiB worker ${rssMiB(processes.worker).toFixed(0)}, Temporal ${rssMiB(processes.temporal).toFixed(0)}, FerretDB ${rssMiB(processes.ferretdb).toFixed(0)}`,
            );
          }
        }
      }),
    );
  // On the way: the same measurement (fewer samples) at each checkpoint, the flows started so far waiting.
  const checkpointResults: { waiting: number; atSeconds: number; phase: Phase }[] = [];
  for (const target of checkpoints.filter((c) => c < waiting)) {
    await startUntil(target);
    if (performance.now() >= deadline) break;
    const phase = await measurePhase(`at-${target}`, tokenRef, checkpointSamples);
    checkpointResults.push({ waiting: startLatencies.length, atSeconds: elapsed(), phase });
    printPhase(`with ${startLatencies.length} waiting (${elapsed().toFixed(0)} s)`, phase);
  }
  await startUntil(waiting);
  const startSeconds = elapsed();
  if (performance.now() >= deadline) log(`time is up (--max-minutes ${maxMinutes}): ${startLatencies.length} of ${waiting} started`);
  log(
    `${startLatencies.length} started (${slow} of them answered 202 after the API's 10 s start deadline; ${failed} failed) in ${startSeconds.toFixed(0)} s, ` +
      `${(startLatencies.length / startSeconds).toFixed(1)}/s; start p50 ${percentile(startLatencies, 50).toFixed(0)} ms, p99 ${percentile(startLatencies, 99).toFixed(0)} ms`,
  );

  const cpuBefore = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const settleStarted = performance.now();
  await new Promise((r) => setTimeout(r, settleSeconds * 1000));
  const settleElapsed = (performance.now() - settleStarted) / 1000;
  const cpuShare = Object.fromEntries(
    Object.entries(processes).map(([name, pid]) => [name, (cpuSeconds(pid) - cpuBefore[name]!) / settleElapsed]),
  ) as Record<keyof typeof processes, number>;
  log(
    `idle with ${startLatencies.length} waiting, CPU (cores) over ${settleElapsed.toFixed(0)} s: ` +
      Object.entries(cpuShare).map(([name, cores]) => `${name} ${cores.toFixed(2)}`).join(', '),
  );

  const stored = await mongo.db.collection(collections.flows).countDocuments({ state: 'AWAITING_AUTHORIZATION' });
  const after = await measurePhase('after', tokenRef, samples);
  printPhase(`with ${startLatencies.length} waiting`, after);
  log(`flows stored as AWAITING_AUTHORIZATION: ${stored}`);

  const jsonFile = option('json');
  if (jsonFile) {
    await writeFile(
      jsonFile,
      `${JSON.stringify({ at: new Date().toISOString(), cpus: cpus().length, waiting: startLatencies.length, slow, failed, startSeconds, checkpoints: checkpointResults, settleSeconds: settleElapsed, idleCpuCores: cpuShare, before, after }, null, 2)}\n`,
    );
  }
  await mongo.close();
  await shutdown();
  if (failed > 0) process.exit(1);
} catch (err) {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  for (const child of [worker, api]) process.stderr.write(`--- ${child.name} ---\n${child.recentOutput()}\n`);
  await mongo.close().catch(() => undefined);
  await shutdown();
  process.exit(1);
}
