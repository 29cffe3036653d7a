// `npm run dev`: the whole product on this machine, one command, after `scripts/setup.sh`.
//
//   Temporal dev server  SQLite .data/temporal/dev.sqlite, Web UI   (skipped when TEMPORAL_ADDRESS is set)
//   FerretDB             SQLite .data/ferretdb/                     (skipped when MONGODB_URI is set)
//   Klarna simulator     tsx klarna-simulator/main.ts               (skipped when KLARNA_USERNAME is set)
//   worker               tsx worker/main.ts
//   API                  tsx api/main.ts
//
// Ports: TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8233), FERRETDB_PORT (27017), SIMULATOR_PORT
// (8090), API_PORT (3000), WORKER_METRICS_PORT (9464: the worker's Prometheus endpoint, unless
// WORKER_METRICS_ADDRESS says where). Temporal's and FerretDB's data stays in .data/ between runs; the
// simulator keeps its sessions in memory only. Ctrl-C stops everything.
//
// The simulator, the worker and the API are supervised (stack/supervised-child.ts): one that exits
// on its own is started again after a back-off (1 s, doubling to 30 s; reset once a run has lasted
// 60 s), with a report of why it ended. Temporal or FerretDB dying stops the stack, after saying
// so: their deaths are rarely transient (port taken, disk full, killed), and the other processes
// cannot work without them anyway.
//
// `--watch` (`npm run dev:watch`): a change to a source file restarts the worker and the API at
// once (a change under klarna-simulator/ restarts the simulator); test/, docs/, scripts/, stack/,
// bench/, hidden directories (.data/, .tools/) and node_modules/ are not watched.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Connection } from '@temporalio/client';
// CommonJS package: under plain Node ESM (tsx) only its default export is importable by name.
import protos from '@temporalio/proto';
import { DEV_CALLBACK_SECRET, DEV_WEBHOOK_SIGNING_KEY, DEV_WEBHOOK_SIGNING_KEY_ID, devKeyBytes } from '../config/dev-secrets.js';
import { loadConfig } from '../config/env.js';
import { temporalConnectionOptions } from '../temporal/connection-options.js';
import { describeExit, installShutdownHandlers, stopAllChildren, type ManagedChild } from '../stack/child-processes.js';
import { devPayloadEncryptionKeys } from '../stack/dev-payload-keys.js';
import { startFerretDb } from '../stack/ferretdb.js';
import { assertPortFree, waitForPort } from '../stack/ports.js';
import { describeFiles, isIgnoredDirectory, watchSources, type SourceWatcher } from '../stack/source-watcher.js';
import { superviseChild, type SupervisedChild } from '../stack/supervised-child.js';
import { startTemporalDevServer } from '../stack/temporal-dev-server.js';
import { repoRoot } from '../stack/tool-paths.js';

const HOST = '127.0.0.1';
const dataDir = join(repoRoot, '.data');
const env = process.env;

let args: { watch: boolean };
try {
  const { values } = parseArgs({ options: { watch: { type: 'boolean', default: false } }, strict: true, allowPositionals: false });
  args = { watch: values.watch ?? false };
} catch (err) {
  process.stderr.write(`dev: ${(err as Error).message}\nusage: npm run dev [-- --watch]   (or npm run dev:watch)\n`);
  process.exit(2);
}

function portFromEnv(name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`${name}=${raw} is not a port number (1-65535)`);
  return port;
}

function fail(message: string): never {
  process.stderr.write(`dev: ${message}\n`);
  process.exit(1);
}

const log = (message: string) => process.stdout.write(`dev: ${message}\n`);

const ports = {
  temporal: portFromEnv('TEMPORAL_PORT', 7233),
  temporalUi: portFromEnv('TEMPORAL_UI_PORT', 8233),
  ferretdb: portFromEnv('FERRETDB_PORT', 27017),
  simulator: portFromEnv('SIMULATOR_PORT', 8090),
  api: portFromEnv('API_PORT', 3000),
  workerMetrics: portFromEnv('WORKER_METRICS_PORT', 9464),
};

const runTemporal = !env.TEMPORAL_ADDRESS;
const runFerretDb = !env.MONGODB_URI;
const runSimulator = !env.KLARNA_USERNAME;

// ---- every port checked before anything starts; every problem reported at once ----------------

const checks: [number, string, string][] = [[ports.api, 'API', 'API_PORT']];
if (!env.WORKER_METRICS_ADDRESS) checks.push([ports.workerMetrics, 'worker metrics', 'WORKER_METRICS_PORT']);
if (runTemporal) checks.push([ports.temporal, 'Temporal', 'TEMPORAL_PORT'], [ports.temporalUi, 'Temporal UI', 'TEMPORAL_UI_PORT']);
if (runFerretDb) checks.push([ports.ferretdb, 'FerretDB', 'FERRETDB_PORT']);
if (runSimulator) checks.push([ports.simulator, 'Klarna simulator', 'SIMULATOR_PORT']);
const portProblems = (
  await Promise.all(checks.map(([port, label, variable]) => assertPortFree(port, HOST, label, variable).then(() => '', (e: Error) => e.message)))
).filter(Boolean);
if (new Set(checks.map(([port]) => port)).size !== checks.length) portProblems.push('two services are configured with the same port');
if (portProblems.length) fail(`cannot start:\n${portProblems.map((p) => `  - ${p}`).join('\n')}\n(is another \`npm run dev\` running?)`);

let shuttingDown = false;
let stopRequestedAt = 0;
let sourceWatcher: SourceWatcher | undefined;
installShutdownHandlers({
  beforeStop: () => {
    shuttingDown = true;
    stopRequestedAt = Date.now();
    sourceWatcher?.close();
    log('stopping ...');
  },
  afterStop: () => log(`stopped in ${((Date.now() - stopRequestedAt) / 1000).toFixed(1)} s`),
});

/** Temporal or FerretDB dying on its own takes the whole stack down, after saying why. */
function stopStackOnExit(child: ManagedChild, what: string): void {
  void child.exited.then((info) => {
    if (shuttingDown) return;
    shuttingDown = true;
    sourceWatcher?.close();
    process.stderr.write(
      `dev: ${child.name} (${what}) ${describeExit(info)}; the worker and the API cannot work without it: stopping the stack` +
        ` (data is kept in .data/; \`npm run dev\` starts it again)\n`,
    );
    void stopAllChildren().finally(() => process.exit(1));
  });
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * A TypeScript entry point of this repository, run by Node with tsx's loader and restarted with
 * back-off whenever it exits on its own. `ready` tells when a run is up: awaited for the first
 * run by `untilReady`, and reported for every later one.
 */
function startNodeProcess(
  name: string,
  entry: string,
  childEnv: NodeJS.ProcessEnv,
  ready: (child: ManagedChild) => Promise<void>,
): SupervisedChild {
  return superviseChild(name, process.execPath, ['--import', 'tsx', entry], {
    cwd: repoRoot,
    env: childEnv,
    graceMs: 15_000,
    log: (message) => process.stderr.write(`dev: ${message}\n`),
    onStart: (child, run) => {
      if (run === 1) return;
      const startedAt = Date.now();
      ready(child).then(
        () => {
          if (!shuttingDown && !child.hasExited()) log(`${name} is up again (run ${run}, ${seconds(Date.now() - startedAt)})`);
        },
        (err: unknown) => {
          // A run that died is reported by its supervisor.
          if (!shuttingDown && !child.hasExited()) log(`${name} (run ${run}) is not ready: ${err instanceof Error ? err.message : String(err)}`);
        },
      );
    },
  });
}

/** Resolves once a run of `supervised` is ready; a run that dies first is restarted (and reported) by its supervisor. */
async function untilReady(supervised: SupervisedChild, ready: (child: ManagedChild) => Promise<void>): Promise<void> {
  for (;;) {
    const child = await supervised.running();
    try {
      await ready(child);
      return;
    } catch (err) {
      if (!child.hasExited()) throw err;
    }
  }
}

/**
 * Local-only secrets the API and worker need; kept in .data/ so tokens stay decryptable across runs.
 * Marked as development keys (config/dev-secrets.ts): production mode refuses them.
 */
function devTokenEncryptionKey(): string {
  const file = join(dataDir, 'dev-token-encryption-key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${devKeyBytes().toString('base64')}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return readFileSync(file, 'utf8').trim();
}

const redact = (uri: string) => uri.replace(/\/\/[^@/]*@/, '//***@');

async function main() {
  const started = Date.now();

  // ---- servers, in parallel ----
  log(
    `starting ${[runTemporal && 'Temporal', runFerretDb && 'FerretDB', runSimulator && 'Klarna simulator'].filter(Boolean).join(', ') || 'no embedded servers'} ...`,
  );
  const namespace = env.TEMPORAL_NAMESPACE || 'default';
  const simulatorUrl = `http://${HOST}:${ports.simulator}`;
  const simulatorReady = (child: ManagedChild) => waitForPort(HOST, ports.simulator, 60_000, abortOnExit(child));
  const simulator = runSimulator
    ? startNodeProcess(
        'simulator',
        'klarna-simulator/main.ts',
        {
          ...env,
          SIMULATOR_PORT: String(ports.simulator),
          SIMULATOR_HOST: HOST,
          SIMULATOR_USERNAME: 'sim-merchant',
          SIMULATOR_PASSWORD: 'sim-secret',
          // Klarna's portal subscription, simulated: v2 webhooks to the API, signed with the dev key.
          SIMULATOR_WEBHOOK_URL: `http://${HOST}:${ports.api}/klarna/webhooks/v2`,
          SIMULATOR_WEBHOOK_SIGNING_KEY: DEV_WEBHOOK_SIGNING_KEY,
          SIMULATOR_WEBHOOK_SIGNING_KEY_ID: DEV_WEBHOOK_SIGNING_KEY_ID,
        },
        simulatorReady,
      )
    : undefined;
  const [temporal, ferretdb] = await Promise.all([
    runTemporal
      ? startTemporalDevServer({
          port: ports.temporal,
          uiPort: ports.temporalUi,
          dbFile: join(dataDir, 'temporal', 'dev.sqlite'),
          namespace,
          // The UI decrypts payloads through the API's codec endpoint (docs/flows.md, Payload codec).
          uiCodecEndpoint: `http://${HOST}:${ports.api}/codec`,
        })
      : undefined,
    runFerretDb ? startFerretDb({ port: ports.ferretdb, dataDir: join(dataDir, 'ferretdb') }) : undefined,
    simulator ? untilReady(simulator, simulatorReady) : undefined,
  ]);
  if (temporal) stopStackOnExit(temporal.child, 'the Temporal dev server');
  if (ferretdb) stopStackOnExit(ferretdb.child, 'FerretDB');

  // ---- the product ----
  const apiUrl = `http://${HOST}:${ports.api}`;
  const appEnv: NodeJS.ProcessEnv = {
    ...env,
    TEMPORAL_ADDRESS: temporal?.address ?? env.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: namespace,
    MONGODB_URI: ferretdb?.uri ?? env.MONGODB_URI,
    API_PORT: String(ports.api),
    PUBLIC_BASE_URL: env.PUBLIC_BASE_URL || apiUrl,
    CALLBACK_SECRET: env.CALLBACK_SECRET || DEV_CALLBACK_SECRET,
    TOKEN_ENCRYPTION_KEY: env.TOKEN_ENCRYPTION_KEY || devTokenEncryptionKey(),
    PAYLOAD_ENCRYPTION_KEYS: env.PAYLOAD_ENCRYPTION_KEYS || devPayloadEncryptionKeys(dataDir),
    CODEC_CORS_ORIGINS: env.CODEC_CORS_ORIGINS || `http://${HOST}:${ports.temporalUi},http://localhost:${ports.temporalUi}`,
    // Metrics are on in development; traces when OTEL_EXPORTER_OTLP_ENDPOINT names a collector.
    WORKER_METRICS_ADDRESS: env.WORKER_METRICS_ADDRESS || `${HOST}:${ports.workerMetrics}`,
    // KLARNA_SIMULATOR_URL: the API serves the demo checkout on the simulator (development only).
    ...(simulator ? { KLARNA_BASE_URL: simulatorUrl, KLARNA_USERNAME: 'sim-merchant', KLARNA_PASSWORD: 'sim-secret', KLARNA_SIMULATOR_URL: simulatorUrl } : {}),
    ...(simulator && !env.KLARNA_WEBHOOK_SIGNING_KEYS ? { KLARNA_WEBHOOK_SIGNING_KEYS: `${DEV_WEBHOOK_SIGNING_KEY_ID}:${DEV_WEBHOOK_SIGNING_KEY}` } : {}),
  };
  log('starting the worker and the API ...');
  const workerReady = (child: ManagedChild) => waitForWorkerPolling(appEnv, child);
  const apiReady = (child: ManagedChild) => waitForPort(HOST, ports.api, 90_000, abortOnExit(child));
  const worker = startNodeProcess('worker', 'worker/main.ts', appEnv, workerReady);
  const api = startNodeProcess('api', 'api/main.ts', appEnv, apiReady);
  // Watching from now on: a change can also rescue a worker or API that fails at start.
  if (args.watch) sourceWatcher = watchForChanges([worker, api], simulator);
  await Promise.all([untilReady(api, apiReady), untilReady(worker, workerReady)]);
  // The API and worker have created their collections: give FerretDB its usable _id index.
  if (ferretdb) await ferretdb.indexIdLookups(appEnv.MONGODB_DATABASE || 'klarna_token_sagas').catch((err: unknown) => log(`FerretDB _id index not added (lookups by _id scan): ${String(err)}`));

  const mongoUri = appEnv.MONGODB_URI ?? '';
  const lines = [
    `API               ${apiUrl}   (OpenAPI: ${apiUrl}/docs)`,
    runSimulator ? `Demo checkout     ${apiUrl}/demo/checkout   (open it: a refused renewal recovered with Klarna, widget or hosted page)` : undefined,
    temporal ? `Temporal UI       ${temporal.uiUrl}` : undefined,
    `Temporal          ${appEnv.TEMPORAL_ADDRESS}   namespace ${appEnv.TEMPORAL_NAMESPACE}${temporal ? '   (dev server, .data/temporal/dev.sqlite)' : ''}`,
    runSimulator ? `Klarna simulator  ${simulatorUrl}   (user sim-merchant / sim-secret)` : `Klarna            ${env.KLARNA_BASE_URL ?? `region ${env.KLARNA_REGION ?? 'eu'}, ${env.KLARNA_ENVIRONMENT ?? 'playground'}`}`,
    `MongoDB           ${redact(mongoUri)}${ferretdb ? '   (FerretDB, .data/ferretdb/)' : ''}`,
    `Klarna callbacks  ${appEnv.PUBLIC_BASE_URL}`,
    `Metrics           ${apiUrl}/metrics (API)   http://${appEnv.WORKER_METRICS_ADDRESS}/metrics (worker, Temporal's)`,
    `Traces            ${env.OTEL_EXPORTER_OTLP_ENDPOINT ? `OTLP/HTTP to ${new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT).origin}` : 'off (set OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://127.0.0.1:4318)'}`,
  ].filter(Boolean);
  const watching = args.watch ? '; watching source files' : '';
  log(`all up in ${((Date.now() - started) / 1000).toFixed(1)} s${watching}; Ctrl-C stops everything\n\n${lines.map((l) => `    ${l}`).join('\n')}\n`);
}

// Not watched: what the worker, the API and the simulator never import, plus (isIgnoredDirectory)
// hidden directories such as .git/, .data/ and .tools/, and node_modules/.
const notWatched = new Set(['test', 'docs', 'scripts', 'stack', 'bench']);
const simulatorDir = 'klarna-simulator/';

/** Watch mode: restart the worker and the API on a source change; the simulator on a change to its own code. */
function watchForChanges(apps: SupervisedChild[], simulator: SupervisedChild | undefined): SourceWatcher {
  const watcher = watchSources({
    root: repoRoot,
    ignoreDirectory: (dir) => isIgnoredDirectory(dir) || notWatched.has(dir.split('/')[0]!),
    onChange: (files) => {
      if (shuttingDown) return;
      // Files at the top level (package.json, configs) are not the processes' code.
      const inDirectories = files.filter((f) => f.includes('/'));
      const simulatorFiles = inDirectories.filter((f) => f.startsWith(simulatorDir));
      const appFiles = inDirectories.filter((f) => !f.startsWith(simulatorDir));
      if (appFiles.length) for (const app of apps) void app.restart(`${describeFiles(appFiles)} changed`);
      if (simulatorFiles.length && simulator) {
        void simulator.restart(`${describeFiles(simulatorFiles)} changed (its sessions are in memory: they are lost)`);
      }
    },
  });
  log(`watch mode: ${watcher.directories().length} directories watched; a source change restarts the worker and the API`);
  return watcher;
}

function abortOnExit(child: ManagedChild): AbortSignal {
  const controller = new AbortController();
  void child.exited.then(() => controller.abort(new Error(`${child.name} exited`)));
  return controller.signal;
}

/** Ready = the worker polls its task queue (it bundles the workflows first: some seconds on 2 cores). */
async function waitForWorkerPolling(appEnv: NodeJS.ProcessEnv, worker: ManagedChild): Promise<void> {
  const { temporal } = loadConfig(['temporal'], appEnv);
  const connection = await Connection.connect(await temporalConnectionOptions(temporal));
  try {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (worker.hasExited()) throw new Error('worker exited');
      const { pollers } = await connection.workflowService.describeTaskQueue({
        namespace: temporal.namespace,
        taskQueue: { name: temporal.taskQueue },
        taskQueueType: protos.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      // The SDK's default identity is `<pid>@<host>`: this worker, not one left from another run.
      if (pollers?.some((p) => p.identity?.startsWith(`${worker.process.pid}@`))) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`the worker did not poll task queue ${temporal.taskQueue} within 120 s`);
  } finally {
    await connection.close();
  }
}

main().catch(async (err: unknown) => {
  if (shuttingDown) return; // a child died (already reported) or Ctrl-C
  shuttingDown = true;
  process.stderr.write(`dev: ${err instanceof Error ? err.message : String(err)}\n`);
  await stopAllChildren();
  process.exit(1);
});
