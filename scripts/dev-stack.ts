// `npm run dev`: the whole product on this machine, one command, after `scripts/setup.sh`.
//
//   Temporal dev server  SQLite .data/temporal/dev.sqlite, Web UI   (skipped when TEMPORAL_ADDRESS is set)
//   FerretDB             SQLite .data/ferretdb/                     (skipped when MONGODB_URI is set)
//   Klarna simulator     tsx klarna-simulator/main.ts               (skipped when KLARNA_USERNAME is set)
//   worker               tsx worker/main.ts
//   API                  tsx api/main.ts
//
// Ports: TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8233), FERRETDB_PORT (27017), SIMULATOR_PORT
// (8090), API_PORT (3000). Data stays in .data/ between runs. Ctrl-C stops everything; so does
// any process dying, after reporting it.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
// CommonJS package: under plain Node ESM (tsx) only its default export is importable by name.
import protos from '@temporalio/proto';
import { loadConfig } from '../config/env.js';
import { temporalConnectionOptions } from '../temporal/connection-options.js';
import {
  describeExit,
  installShutdownHandlers,
  spawnChild,
  stopAllChildren,
  type ManagedChild,
} from '../stack/child-processes.js';
import { startFerretDb } from '../stack/ferretdb.js';
import { assertPortFree, waitForPort } from '../stack/ports.js';
import { startTemporalDevServer } from '../stack/temporal-dev-server.js';
import { repoRoot } from '../stack/tool-paths.js';

const HOST = '127.0.0.1';
const dataDir = join(repoRoot, '.data');
const env = process.env;

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
};

const runTemporal = !env.TEMPORAL_ADDRESS;
const runFerretDb = !env.MONGODB_URI;
const runSimulator = !env.KLARNA_USERNAME;

// ---- every port checked before anything starts; every problem reported at once ----------------

const checks: [number, string, string][] = [[ports.api, 'API', 'API_PORT']];
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
installShutdownHandlers({
  beforeStop: () => {
    shuttingDown = true;
    stopRequestedAt = Date.now();
    log('stopping ...');
  },
  afterStop: () => log(`stopped in ${((Date.now() - stopRequestedAt) / 1000).toFixed(1)} s`),
});

/** Any child dying on its own takes the whole stack down, after saying why. */
function onUnexpectedExit(child: ManagedChild) {
  return (info: Parameters<typeof describeExit>[0]) => {
    if (shuttingDown) return;
    shuttingDown = true;
    process.stderr.write(`dev: ${child.name} ${describeExit(info)}; stopping the stack\n`);
    void stopAllChildren().finally(() => process.exit(1));
  };
}
function watch(child: ManagedChild): ManagedChild {
  void child.exited.then(onUnexpectedExit(child));
  return child;
}

/** A TypeScript entry point of this repository, run by Node with tsx's loader. */
function startNodeProcess(name: string, entry: string, childEnv: NodeJS.ProcessEnv): ManagedChild {
  return watch(
    spawnChild(name, process.execPath, ['--import', 'tsx', entry], {
      cwd: repoRoot,
      env: childEnv,
      graceMs: 15_000,
      // Reported by onUnexpectedExit instead.
      onUnexpectedExit: () => undefined,
    }),
  );
}

/** Local-only secrets the API and worker need; kept in .data/ so tokens stay decryptable across runs. */
function devTokenEncryptionKey(): string {
  const file = join(dataDir, 'dev-token-encryption-key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
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
  const simulator = runSimulator
    ? startNodeProcess('simulator', 'klarna-simulator/main.ts', {
        ...env,
        SIMULATOR_PORT: String(ports.simulator),
        SIMULATOR_HOST: HOST,
        SIMULATOR_USERNAME: 'sim-merchant',
        SIMULATOR_PASSWORD: 'sim-secret',
      })
    : undefined;
  const [temporal, ferretdb] = await Promise.all([
    runTemporal
      ? startTemporalDevServer({ port: ports.temporal, uiPort: ports.temporalUi, dbFile: join(dataDir, 'temporal', 'dev.sqlite'), namespace })
      : undefined,
    runFerretDb ? startFerretDb({ port: ports.ferretdb, dataDir: join(dataDir, 'ferretdb') }) : undefined,
    simulator ? waitForPort(HOST, ports.simulator, 60_000, abortOnExit(simulator)) : undefined,
  ]);
  if (temporal) watch(temporal.child);
  if (ferretdb) watch(ferretdb.child);

  // ---- the product ----
  const apiUrl = `http://${HOST}:${ports.api}`;
  const appEnv: NodeJS.ProcessEnv = {
    ...env,
    TEMPORAL_ADDRESS: temporal?.address ?? env.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: namespace,
    MONGODB_URI: ferretdb?.uri ?? env.MONGODB_URI,
    API_PORT: String(ports.api),
    PUBLIC_BASE_URL: env.PUBLIC_BASE_URL || apiUrl,
    CALLBACK_SECRET: env.CALLBACK_SECRET || 'dev-callback-secret-not-for-production',
    TOKEN_ENCRYPTION_KEY: env.TOKEN_ENCRYPTION_KEY || devTokenEncryptionKey(),
    ...(simulator ? { KLARNA_BASE_URL: simulatorUrl, KLARNA_USERNAME: 'sim-merchant', KLARNA_PASSWORD: 'sim-secret' } : {}),
  };
  log('starting the worker and the API ...');
  const worker = startNodeProcess('worker', 'worker/main.ts', appEnv);
  const api = startNodeProcess('api', 'api/main.ts', appEnv);
  await Promise.all([
    waitForPort(HOST, ports.api, 90_000, abortOnExit(api)),
    waitForWorkerPolling(appEnv, worker),
  ]);

  const mongoUri = appEnv.MONGODB_URI ?? '';
  const lines = [
    `API               ${apiUrl}   (OpenAPI: ${apiUrl}/docs)`,
    temporal ? `Temporal UI       ${temporal.uiUrl}` : undefined,
    `Temporal          ${appEnv.TEMPORAL_ADDRESS}   namespace ${appEnv.TEMPORAL_NAMESPACE}${temporal ? '   (dev server, .data/temporal/dev.sqlite)' : ''}`,
    runSimulator ? `Klarna simulator  ${simulatorUrl}   (user sim-merchant / sim-secret)` : `Klarna            ${env.KLARNA_BASE_URL ?? `region ${env.KLARNA_REGION ?? 'eu'}, ${env.KLARNA_ENVIRONMENT ?? 'playground'}`}`,
    `MongoDB           ${redact(mongoUri)}${ferretdb ? '   (FerretDB, .data/ferretdb/)' : ''}`,
    `Klarna callbacks  ${appEnv.PUBLIC_BASE_URL}`,
  ].filter(Boolean);
  log(`all up in ${((Date.now() - started) / 1000).toFixed(1)} s; Ctrl-C stops everything\n\n${lines.map((l) => `    ${l}`).join('\n')}\n`);
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
