// `npm run bench [tokenize|charge ...] [-- options]`: each flow measured three ways in one run, on
// the same servers (its own Temporal dev server in memory, FerretDB in a temporary directory, the
// Klarna simulator, the API and a worker in this process):
//   (a) the flow: through the API and Temporal, the way a checkout uses it (the charge answers
//       in its POST; tokenize's checkout waits with GET ?wait= after the shopper approves);
//   (b) direct: the same Klarna calls and MongoDB writes, no API, no Temporal;
//   (c) floor: a no-op workflow with the flow's number of activities, signals and updates.
// Prints throughput and p50/p95/p99 of each, and the ratios a/c (throughput) and a/c (p99).
// Options: --flows N (default 200), --concurrency 20 (or a list: 5,10,20), --sweep (finds the knee:
// the highest throughput before p99 doubles, concurrency 1,2,4,…,64), --modes flow,direct,floor
// (a subset, e.g. `flow` alone under a profiler), --json <file>.
// Numbers depend on the machine and its load; they compare designs, they do not assert.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection, WithStartWorkflowOperation } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createKlarnaClient } from '../klarna/client.js';
import { customerTokensRepository } from '../persistence/customer-tokens-repository.js';
import { flowsRepository } from '../persistence/flows-repository.js';
import { killChildrenOnSignals } from '../stack/child-processes.js';
import { startFerretDb } from '../stack/ferretdb.js';
import { simulatorCredentials, startInProcessApp } from '../stack/in-process-app.js';
import { getFreePort } from '../stack/ports.js';
import { startTemporalDevServer } from '../stack/temporal-dev-server.js';
import { vaultSimulatorToken } from '../stack/vaulted-token.js';
import { cliOption, cpuSeconds, fail, json, percentile } from './bench-support.js';
import { floorDoneUpdate, floorSignal } from './floor-workflow.js';

type FlowName = 'tokenize' | 'charge';
/** Each flow's shape, for its floor: activities per flow and where the shopper's signal comes. */
const shapes: Record<FlowName, { activities: number; signalAfter?: number }> = {
  // createPaymentSession, recordFlowStatus ‖ signal ‖ createCustomerToken, vaultCustomerToken, recordFlowStatus
  tokenize: { activities: 5, signalAfter: 2 },
  // placeTokenOrder, recordFlowStatus
  charge: { activities: 2 },
};

const args = process.argv.slice(2);
const option = (name: string) => cliOption(args, name);
const chosen = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) as FlowName[];
const flowNames: FlowName[] = chosen.length ? chosen : ['tokenize', 'charge'];
for (const name of flowNames) if (!(name in shapes)) fail(`unknown flow ${name} (tokenize, charge)`);
const count = Number(option('flows') ?? process.env.BENCH_FLOWS ?? 200);
const sweep = args.includes('--sweep');
const modes = (option('modes') ?? 'flow,direct,floor').split(',') as Result['mode'][];
if (!modes.length || modes.some((m) => !['flow', 'direct', 'floor'].includes(m))) fail('--modes takes a list of flow, direct, floor');
const levels = sweep ? [1, 2, 4, 8, 16, 32, 64] : (option('concurrency') ?? process.env.BENCH_CONCURRENCY ?? '20').split(',').map(Number);
if (!Number.isInteger(count) || count < 1 || levels.some((c) => !Number.isInteger(c) || c < 1)) fail('--flows and --concurrency take positive integers');

interface Result {
  flow: FlowName;
  mode: 'flow' | 'direct' | 'floor';
  concurrency: number;
  flows: number;
  failed: number;
  throughput: number;
  p50: number;
  p95: number;
  p99: number;
  /** CPU time per flow, in ms, of each process (group) while this measurement ran: where the time goes. */
  cpuMsPerFlow: CpuSplit;
  /** MongoDB commands per flow by `command collection`: how many, and their mean latency (ms) seen by the driver. */
  mongoPerFlow: Record<string, { count: number; meanMs: number }>;
}
type CpuSplit = { node: number; temporal: number; ferretdb: number };

/** Runs `one` `count` times, `concurrency` at a time; latency of each and overall throughput. */
async function measure(flow: FlowName, mode: Result['mode'], concurrency: number, one: (i: number) => Promise<void>): Promise<Result> {
  await one(-1).catch((err: unknown) => fail(`${flow}/${mode} warm-up failed: ${String(err)}`));
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const cpuBefore = cpuNow();
  mongoTally.clear();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        try {
          await one(i);
          latencies.push(performance.now() - t0);
        } catch (err) {
          failed++;
          if (failed <= 3) process.stderr.write(`bench: ${flow}/${mode} #${i}: ${String(err)}\n`);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = cpuNow();
  const perFlow = (key: keyof CpuSplit) => (cpuAfter[key] - cpuBefore[key]) / count;
  const sorted = latencies.sort((a, b) => a - b);
  return {
    flow,
    mode,
    concurrency,
    flows: count,
    failed,
    throughput: latencies.length / seconds,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    cpuMsPerFlow: { node: perFlow('node'), temporal: perFlow('temporal'), ferretdb: perFlow('ferretdb') },
    mongoPerFlow: Object.fromEntries(
      [...mongoTally].sort(([, x], [, y]) => y.totalMs - x.totalMs).map(([key, t]) => [key, { count: t.count / count, meanMs: t.totalMs / t.count }]),
    ),
  };
}

// Every MongoDB command the app (API and worker) and the direct path send, by command and
// collection, from the driver's command events: how often each flow reads and writes.
const mongoTally = new Map<string, { count: number; totalMs: number }>();
const collectionOf = (command: Record<string, unknown>, name: string) => (typeof command[name] === 'string' ? String(command[name]) : '');

// CPU time used so far (ms): this process (API, worker, simulator and the bench's own client, all
// threads) and each server with its children (the CLI may run the server as its child).
function cpuNow(): CpuSplit {
  const own = process.cpuUsage();
  return {
    node: (own.user + own.system) / 1000,
    temporal: cpuSeconds(temporal.child.process.pid) * 1000,
    ferretdb: cpuSeconds(ferretdb.child.process.pid) * 1000,
  };
}

Runtime.install({ logger: new DefaultLogger('ERROR') });
killChildrenOnSignals();
const dataDir = await mkdtemp(join(tmpdir(), 'kts-bench-'));
const [temporal, ferretdb] = await Promise.all([
  getFreePort().then((port) => startTemporalDevServer({ port, headless: true, echo: false, name: 'bench-temporal' })),
  getFreePort().then((port) => startFerretDb({ port, dataDir, echo: false, name: 'bench-ferretdb' })),
]);
const app = await startInProcessApp({ temporalAddress: temporal.address, mongoUri: ferretdb.uri, monitorMongoCommands: true });
// As the dev stack does: the _id index FerretDB's lookups can use (stack/ferretdb-id-index.ts).
await ferretdb.indexIdLookups(app.mongo.db.databaseName);
const startedCommands = new Map<number, string>();
app.mongo.client.on('commandStarted', (e) => startedCommands.set(e.requestId, `${e.commandName} ${collectionOf(e.command, e.commandName)}`.trim()));
const endCommand = (e: { requestId: number; duration: number }) => {
  const key = startedCommands.get(e.requestId);
  startedCommands.delete(e.requestId);
  if (!key) return;
  const t = mongoTally.get(key) ?? { count: 0, totalMs: 0 };
  t.count++;
  t.totalMs += e.duration;
  mongoTally.set(key, t);
};
app.mongo.client.on('commandSucceeded', endCommand);
app.mongo.client.on('commandFailed', endCommand);
const klarna = createKlarnaClient({ baseUrl: app.simulatorUrl, ...simulatorCredentials, timeoutMs: 10_000 });
const tokens = customerTokensRepository(app.mongo.db);
const flowDocs = flowsRepository(app.mongo.db);
const runId = randomUUID().slice(0, 6);

// The floor: its own worker and task queue on the same server, no payload codec (a lower bound).
const floorQueue = `bench-floor-${runId}`;
const floorConnection = await NativeConnection.connect({ address: temporal.address });
const floorWorker = await Worker.create({
  connection: floorConnection,
  taskQueue: floorQueue,
  workflowsPath: new URL('./floor-workflow.ts', import.meta.url).pathname,
  activities: { noop: async () => undefined },
});
const floorRun = floorWorker.run();
const floorClient = new Client({ connection: await Connection.connect({ address: temporal.address }) });

const tokenizeBody = (reference: string) => ({
  merchant_reference: reference,
  purchase_country: 'SE',
  purchase_currency: 'SEK',
  locale: 'sv-SE',
  description: 'Benchmark subscription',
  order_lines: [{ type: 'digital' as const, name: 'Monthly', quantity: 1, unit_price: 9900, total_amount: 9900 }],
});

// A vaulted token, made at the simulator, for the charges (the direct path uses the raw one).
const vaulted = flowNames.includes('charge') ? await vaultSimulatorToken(app.simulatorUrl, app.vault, app.mongo.db, 'bench') : undefined;
const chargeToken = vaulted?.tokenRef ?? '';
const rawChargeToken = vaulted?.token ?? '';
const chargeBody = (reference: string) => ({
  token_ref: chargeToken,
  purchase_currency: 'SEK',
  order_amount: 9900,
  order_lines: [{ type: 'digital' as const, name: 'Monthly', quantity: 1, unit_price: 9900, total_amount: 9900 }],
  merchant_reference: reference,
  customer_present: false,
});

const paths: Record<FlowName, Record<Result['mode'], (i: number, tag: string) => Promise<void>>> = {
  tokenize: {
    async flow(i, tag) {
      const reference = `bench-${tag}-${i}`;
      const started = await json('POST', `${app.apiUrl}/v1/tokenizations`, tokenizeBody(reference), { 'idempotency-key': reference });
      if (started.status !== 201) throw new Error(`start: ${started.status} ${JSON.stringify(started.body)}`);
      const approved = await json('POST', `${app.simulatorUrl}/_sim/sessions/${started.body.session_id}/authorize`, { outcome: 'approve' });
      if (approved.status !== 200) throw new Error(`authorize: ${approved.status}`);
      // As a checkout waits: a long poll, not a query loop.
      for (let state = 'AWAITING_AUTHORIZATION'; state !== 'COMPLETED'; ) {
        const r = await json('GET', `${app.apiUrl}/v1/tokenizations/${started.body.flow_id}?wait=20s`);
        state = String(r.body.state);
        if (!['AWAITING_AUTHORIZATION', 'CREATING_TOKEN', 'COMPLETED'].includes(state)) throw new Error(`flow ended ${state}`);
      }
    },
    async direct(i, tag) {
      const reference = `direct-${tag}-${i}`;
      const session = await klarna.createSession(
        {
          purchase_country: 'SE',
          purchase_currency: 'SEK',
          locale: 'sv-SE',
          order_amount: 9900,
          order_lines: tokenizeBody(reference).order_lines,
          merchant_reference1: reference,
          intent: 'tokenize',
          merchant_urls: { authorization: `${app.apiUrl}/bench-nowhere` },
        },
        randomUUID(),
      );
      const approved = await json('POST', `${app.simulatorUrl}/_sim/sessions/${session.body.session_id}/authorize`, { outcome: 'approve' });
      const created = await klarna.createCustomerToken(
        String(approved.body.authorization_token),
        { purchase_country: 'SE', purchase_currency: 'SEK', locale: 'sv-SE', description: 'Benchmark', intended_use: 'SUBSCRIPTION' },
        randomUUID(),
      );
      await tokens.save({
        _id: app.vault.reference(created.body.token_id),
        flow_id: reference,
        merchant_reference: reference,
        session_id: session.body.session_id,
        token: app.vault.seal(created.body.token_id),
        token_last4: created.body.token_id.slice(-4),
        status: 'ACTIVE',
        purchase_country: 'SE',
        purchase_currency: 'SEK',
        created_at: new Date(),
      });
    },
    async floor(i, tag) {
      await floorFlow(`floor-tokenize-${tag}-${i}`, shapes.tokenize);
    },
  },
  charge: {
    async flow(i, tag) {
      const reference = `bench-charge-${tag}-${i}`;
      const r = await json('POST', `${app.apiUrl}/v1/charges?wait=20s`, chargeBody(reference), { 'idempotency-key': reference });
      if (r.status !== 201 || r.body.state !== 'COMPLETED') throw new Error(`charge: ${r.status} ${JSON.stringify(r.body)}`);
    },
    async direct(i, tag) {
      const reference = `direct-charge-${tag}-${i}`;
      const order = await klarna.createTokenOrder(
        rawChargeToken,
        { purchase_currency: 'SEK', order_amount: 9900, order_tax_amount: 0, order_lines: chargeBody(reference).order_lines, merchant_reference1: reference },
        reference,
      );
      const now = new Date().toISOString();
      await flowDocs.record(reference, 1, { flow_id: reference, flow_type: 'charge', state: 'COMPLETED', merchant_reference: reference, started_at: now, updated_at: now, ...{ order: order.body } } as never, new Date());
    },
    async floor(i, tag) {
      await floorFlow(`floor-charge-${tag}-${i}`, shapes.charge);
    },
  },
};

/** The floor flow used like the real one: update-with-start, then (if any) the signal, then the result. */
async function floorFlow(workflowId: string, shape: { activities: number; signalAfter?: number }) {
  const start = new WithStartWorkflowOperation('floorWorkflow', {
    taskQueue: floorQueue,
    workflowId,
    args: [shape],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  if (shape.signalAfter === undefined) {
    await floorClient.workflow.executeUpdateWithStart(floorDoneUpdate, { startWorkflowOperation: start });
    return;
  }
  await floorClient.workflow.startUpdateWithStart(floorDoneUpdate, { startWorkflowOperation: start, waitForStage: 'ACCEPTED' });
  const handle = await start.workflowHandle();
  await handle.signal(floorSignal);
  await handle.result();
}

const results: Result[] = [];
const line = (r: Result) =>
  `${r.flow.padEnd(9)}${r.mode.padEnd(8)}${String(r.concurrency).padStart(4)}${r.throughput.toFixed(1).padStart(10)}${r.p50.toFixed(0).padStart(8)}${r.p95.toFixed(0).padStart(8)}${r.p99.toFixed(0).padStart(8)}${String(r.failed).padStart(8)}`;
console.log(`bench: ${count} per measurement, Node ${process.version}, ${cpus().length} CPUs`);
console.log(`${'flow'.padEnd(9)}${'mode'.padEnd(8)}${'conc'.padStart(4)}${'flows/s'.padStart(10)}${'p50 ms'.padStart(8)}${'p95 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'failed'.padStart(8)}`);
for (const flow of flowNames) {
  for (const concurrency of levels) {
    const tag = `${runId}-c${concurrency}`;
    const row: Partial<Record<Result['mode'], Result>> = {};
    for (const mode of modes) {
      row[mode] = await measure(flow, mode, concurrency, (i) => paths[flow][mode](i, `${tag}-${mode}`));
      results.push(row[mode]!);
      console.log(line(row[mode]!));
    }
    const cpu = (r: Result) => `${r.mode} node ${r.cpuMsPerFlow.node.toFixed(0)} / temporal ${r.cpuMsPerFlow.temporal.toFixed(0)} / ferretdb ${r.cpuMsPerFlow.ferretdb.toFixed(0)}`;
    console.log(`${''.padEnd(17)}CPU ms per flow: ${modes.map((m) => cpu(row[m]!)).join('; ')}`);
    const mongo = (r: Result) => Object.entries(r.mongoPerFlow).map(([key, t]) => `${key} ${t.count.toFixed(1)}×${t.meanMs.toFixed(1)}ms`).join(', ') || 'none';
    console.log(`${''.padEnd(17)}MongoDB per flow: ${modes.filter((m) => m !== 'floor').map((m) => `${m} ${mongo(row[m]!)}`).join('; ')}`);
    const a = row.flow;
    const ratios = [
      a && row.floor ? `flow/floor: throughput ×${(a.throughput / row.floor.throughput).toFixed(2)}, p99 ×${(a.p99 / row.floor.p99).toFixed(2)}` : '',
      a && row.direct ? `flow/direct throughput ×${(a.throughput / row.direct.throughput).toFixed(2)}` : '',
    ].filter(Boolean);
    if (ratios.length) console.log(`${''.padEnd(17)}${ratios.join('; ')}`);
  }
  if (sweep && modes.includes('flow')) {
    // The knee: the highest throughput of the flow before its p99 doubles the lowest level's.
    const mine = results.filter((r) => r.flow === flow && r.mode === 'flow');
    const base = mine[0]!.p99;
    const knee = mine.filter((r) => r.p99 <= 2 * base).sort((x, y) => y.throughput - x.throughput)[0];
    if (knee) console.log(`${flow} knee: concurrency ${knee.concurrency}, ${knee.throughput.toFixed(1)} flows/s, p99 ${knee.p99.toFixed(0)} ms`);
  }
}

const jsonFile = option('json');
if (jsonFile) await writeFile(jsonFile, `${JSON.stringify({ at: new Date().toISOString(), cpus: cpus().length, results }, null, 2)}\n`);

floorWorker.shutdown();
await floorRun;
await floorConnection.close();
await app.stop();
await Promise.allSettled([temporal.stop(), ferretdb.stop()]);
await rm(dataDir, { recursive: true, force: true });
if (results.some((r) => r.failed > 0)) process.exit(1);
