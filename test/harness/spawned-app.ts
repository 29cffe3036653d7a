import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';
import { startKlarnaSimulator, type KlarnaSimulator } from '../../klarna-simulator/server.js';
import { connectMongo, type Mongo } from '../../persistence/mongo.js';
import { createTokenVault, type TokenVault } from '../../persistence/token-vault.js';
import { describeExit, spawnChild, type ExitInfo, type ManagedChild } from '../../stack/child-processes.js';
import { getFreePort, waitForPort } from '../../stack/ports.js';
import { repoRoot } from '../../stack/tool-paths.js';
import { createEncryptionCodec, encryptingDataConverter, ephemeralPayloadKeys, formatPayloadKeys } from '../../temporal/payload-codec.js';
import { simulatorCredentials } from './app-stack.js';
import { waitForWorkerPolling } from './chaos-stack.js';
import { appProcessEnv } from '../../stack/app-process-env.js';

// The product as it is deployed, on the suite's Temporal dev server and FerretDB: the API and any
// number of workers as OS processes (`node --import tsx api/main.ts` / `worker/main.ts`,
// configured only by environment variables, each in its own process group) that a test can
// SIGKILL and start again; the Klarna simulator runs in the test's process. For looking at the
// outcome: a Temporal client with the processes' payload codec, the database and the token vault.
//
// A worker is ready once it polls the task queue under its SDK identity `<pid>@<host>`; the same
// identity is recorded in the histories (WorkflowTaskStarted, ActivityTaskStarted), so a test can
// tell which process did which work.

export interface AppProcess {
  readonly name: string;
  readonly child: ManagedChild;
  readonly pid: number;
  /** The Temporal SDK's default worker identity of this process: `<pid>@<host>`. */
  readonly identity: string;
}

export interface SpawnedApp {
  /** The environment every process gets (a test may start more processes with it). */
  env: NodeJS.ProcessEnv;
  apiUrl: string;
  simulator: KlarnaSimulator;
  simulatorUrl: string;
  taskQueue: string;
  mongo: Mongo;
  /** The vault under the processes' TOKEN_ENCRYPTION_KEY (to seal fixture tokens, open stored ones). */
  vault: TokenVault;
  /** A client with the processes' payload codec (start workflows directly, read histories). */
  temporal: Client;
  api: AppProcess;
  /** Every worker started so far, in start order (killed ones too). */
  workers: AppProcess[];
  /** Starts another worker process; resolves once it polls the task queue. */
  startWorker(): Promise<AppProcess>;
  /** SIGKILL to the process group, no warning; resolves once it is gone. */
  kill(proc: AppProcess): Promise<ExitInfo>;
  /** Stops every process (SIGTERM, SIGKILL after a grace period), the simulator, and drops the database. */
  stop(): Promise<void>;
}

export interface SpawnedAppOptions {
  /** Names the task queue and database (a random suffix is added). */
  name: string;
  /** Workers started at once (default 1), in parallel. */
  workers?: number;
  /** pino level of the processes (default `warn`: their output is kept for failure reports only). */
  logLevel?: string;
  /** More variables for every process (e.g. KLARNA_TIMEOUT_MS). */
  env?: NodeJS.ProcessEnv;
}

export async function startSpawnedApp(options: SpawnedAppOptions): Promise<SpawnedApp> {
  const suffix = randomUUID().slice(0, 8);
  const temporalAddress = inject('temporalAddress');
  const taskQueue = `${options.name}-${suffix}`;
  const database = `${options.name.replace(/[^A-Za-z0-9]/g, '_')}_${suffix}`;
  const encryptionKey = randomBytes(32);
  const payloadKeys = ephemeralPayloadKeys();
  const simulator = await startKlarnaSimulator({ ...simulatorCredentials, port: 0, logger: false });
  const mongo = await connectMongo({ uri: inject('mongoUri'), database });
  const temporal = new Client({
    connection: await Connection.connect({ address: temporalAddress }),
    namespace: 'default',
    dataConverter: encryptingDataConverter(createEncryptionCodec(payloadKeys)),
  });
  const apiPort = await getFreePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const env: NodeJS.ProcessEnv = {
    ...appProcessEnv({
      temporalAddress,
      taskQueue,
      mongoUri: inject('mongoUri'),
      database,
      simulatorUrl: simulator.url,
      apiPort,
      callbackSecret: `cb-${randomBytes(16).toString('hex')}`,
      tokenKey: encryptionKey,
      payloadKeys: formatPayloadKeys(payloadKeys),
    }),
    TEMPORAL_NAMESPACE: 'default',
    API_HOST: '127.0.0.1',
    LOG_LEVEL: options.logLevel ?? 'warn',
    ...options.env,
  };

  const processes: AppProcess[] = [];
  const launch = (name: string, entry: string): AppProcess => {
    const child = spawnChild(name, process.execPath, ['--import', 'tsx', entry], {
      cwd: repoRoot,
      env,
      echo: false,
      graceMs: 10_000,
      // A kill is the test's doing; any other death shows up as a flow that does not finish.
      onUnexpectedExit: () => undefined,
    });
    const pid = child.process.pid;
    if (pid === undefined) throw new Error(`${name} could not be started`);
    const proc: AppProcess = { name, child, pid, identity: `${pid}@${hostname()}` };
    processes.push(proc);
    return proc;
  };
  const workers: AppProcess[] = [];

  async function startWorker(): Promise<AppProcess> {
    const worker = launch(`worker-${workers.length + 1}`, 'worker/main.ts');
    workers.push(worker);
    const exited = new AbortController();
    void worker.child.exited.then((info) => exited.abort(new Error(`${worker.name} ${describeExit(info)}`)));
    try {
      await waitForWorkerPolling(temporalAddress, taskQueue, worker.pid, exited.signal);
    } catch (err) {
      throw new Error(`${worker.name} is not polling: ${(err as Error).message}\n${worker.child.recentOutput()}`, { cause: err });
    }
    return worker;
  }

  async function kill(proc: AppProcess): Promise<ExitInfo> {
    if (!proc.child.hasExited()) {
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch {
        proc.child.process.kill('SIGKILL');
      }
    }
    return proc.child.exited;
  }

  const app: SpawnedApp = {
    env,
    apiUrl,
    simulator,
    simulatorUrl: simulator.url,
    taskQueue,
    mongo,
    vault: createTokenVault(encryptionKey),
    temporal,
    api: undefined as unknown as AppProcess,
    workers,
    startWorker,
    kill,
    async stop() {
      await Promise.allSettled(processes.map((p) => p.child.stop()));
      await temporal.connection.close().catch(() => undefined);
      await simulator.close();
      await mongo.db.dropDatabase().catch(() => undefined);
      await mongo.close();
    },
  };
  try {
    app.api = launch('api', 'api/main.ts');
    const apiDown = new AbortController();
    void app.api.child.exited.then((info) => apiDown.abort(new Error(`the API ${describeExit(info)}`)));
    await Promise.all([
      waitForPort('127.0.0.1', apiPort, 120_000, apiDown.signal).catch((err: Error) => {
        throw new Error(`the API did not listen: ${err.message}\n${app.api.child.recentOutput()}`, { cause: err });
      }),
      ...Array.from({ length: options.workers ?? 1 }, () => startWorker()),
    ]);
  } catch (err) {
    await app.stop();
    throw err;
  }
  return app;
}
