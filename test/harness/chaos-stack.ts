import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
// CommonJS package: under plain Node ESM only its default export is importable by name.
import protos from '@temporalio/proto';
import { describeExit, spawnChild, type ExitInfo, type ManagedChild } from '../../stack/child-processes.js';
import { startFerretDb, type FerretDb } from '../../stack/ferretdb.js';
import { getFreePort, waitForPort } from '../../stack/ports.js';
import { startTemporalDevServer, type TemporalDevServer } from '../../stack/temporal-dev-server.js';
import { repoRoot } from '../../stack/tool-paths.js';

// The chaos suite's process control: the product as it is deployed, every part a real OS process
// that can be stopped, SIGKILLed and started again on the same port and the same data.
//
//   Temporal   `temporal server start-dev`, headless, state in a SQLite file (survives a restart)
//   FerretDB   SQLite in a data directory (survives a restart)
//   worker     `node --import tsx worker/main.ts`, configured only by environment variables
//   API        `node --import tsx api/main.ts`, likewise
//
// The Klarna side (the simulator) is not here: the suite runs it in its own process and passes
// its URL. Ports are chosen free once, at start, and kept for the whole suite, so every restart
// comes back where the other processes expect it. Data and logs live in one temporary directory
// (`dir`): `logs/<name>-<n>.log` is the output of the n-th run of each process.
//
// The worker and the API are supervised like the shipped docker-compose.yml runs them
// (`restart: unless-stopped`): if one exits without being asked to (a crash, an exit on a lost
// connection), it is started again after a back-off of 1 s doubling to 8 s, and the restart is
// counted (`unexpectedExits`) so a case can report it. A SIGKILL the suite sends on purpose is
// not unexpected: the suite starts the replacement itself.

export interface ChaosStackOptions {
  /** Klarna's base URL (the simulator) for the worker. */
  klarnaBaseUrl: string;
  klarnaUsername: string;
  klarnaPassword: string;
  /** Print every process's output, prefixed with its name (default false: logs go to files only). */
  echo?: boolean;
  /** pino level of the worker and the API (default `info`; their logs go to files). */
  logLevel?: string;
}

export interface ServerControl {
  readonly name: string;
  isUp(): boolean;
  /** Starts it on its fixed port and data; resolves once it serves. */
  start(): Promise<void>;
  /** SIGTERM (then SIGKILL after the grace period); resolves once it has exited. */
  stop(): Promise<void>;
}

export interface AppProcessControl {
  readonly name: string;
  /** The OS pid of the current run, if one is running. */
  pid(): number | undefined;
  isRunning(): boolean;
  /** Starts a new run and resolves once it is ready (the API listens; the worker polls its task queue). */
  start(): Promise<void>;
  /** Resolves once the current run is ready (e.g. after a supervised restart). */
  waitReady(timeoutMs?: number): Promise<void>;
  /** SIGKILL to the process and its group, no warning; resolves once it is gone. Not restarted. */
  kill(): Promise<ExitInfo | undefined>;
  /** SIGTERM (graceful), then SIGKILL after the grace period. Not restarted. */
  stop(): Promise<void>;
  /** Exits nobody asked for (each was followed by a supervised restart), e.g. "exited with code 1". */
  readonly unexpectedExits: string[];
  /** Runs started so far (the first start included). */
  runs(): number;
  /** The log file of the current (or last) run. */
  logFile(): string | undefined;
}

export interface ChaosStack {
  /** The suite's temporary directory: Temporal's SQLite file, FerretDB's data, the logs. */
  dir: string;
  ports: { temporal: number; ferretdb: number; api: number };
  apiUrl: string;
  temporalAddress: string;
  taskQueue: string;
  mongoUri: string;
  database: string;
  /** The vault key the worker and the API use (TOKEN_ENCRYPTION_KEY), to open stored tokens. */
  encryptionKey: Buffer;
  callbackSecret: string;
  temporal: ServerControl;
  ferretdb: ServerControl;
  worker: AppProcessControl;
  api: AppProcessControl;
  /** Starts whatever is not running (servers first), and waits until the worker and the API are ready. */
  ensureUp(): Promise<void>;
  /** Stops everything (the API and the worker first). With `keepDir`, the directory stays for a post-mortem. */
  stop(options?: { keepDir?: boolean }): Promise<void>;
}

const HOST = '127.0.0.1';

export async function startChaosStack(options: ChaosStackOptions): Promise<ChaosStack> {
  const dir = await mkdtemp(join(tmpdir(), 'kts-chaos-'));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const echo = options.echo ?? false;
  const { temporalPort, ferretdbPort, apiPort } = await freePorts();
  const suffix = randomUUID().slice(0, 8);
  const encryptionKey = randomBytes(32);
  const callbackSecret = `chaos-cb-${randomBytes(16).toString('hex')}`;
  const apiUrl = `http://${HOST}:${apiPort}`;
  const temporalAddress = `${HOST}:${temporalPort}`;
  const mongoUri = `mongodb://${HOST}:${ferretdbPort}/`;
  const taskQueue = `chaos-${suffix}`;
  const database = `chaos_${suffix}`;

  // --- servers ---------------------------------------------------------------------------------
  let temporalServer: TemporalDevServer | undefined;
  const temporal: ServerControl = {
    name: 'temporal',
    isUp: () => temporalServer !== undefined && !temporalServer.child.hasExited(),
    async start() {
      if (temporal.isUp()) return;
      temporalServer = await startTemporalDevServer({
        port: temporalPort,
        headless: true,
        dbFile: join(dir, 'temporal', 'temporal.sqlite'),
        echo,
        name: 'chaos-temporal',
        readyTimeoutMs: 90_000,
      });
    },
    async stop() {
      await temporalServer?.stop();
      temporalServer = undefined;
    },
  };

  let ferret: FerretDb | undefined;
  const ferretdb: ServerControl = {
    name: 'ferretdb',
    isUp: () => ferret !== undefined && !ferret.child.hasExited(),
    async start() {
      if (ferretdb.isUp()) return;
      ferret = await startFerretDb({ port: ferretdbPort, dataDir: join(dir, 'ferretdb'), echo, name: 'chaos-ferretdb' });
    },
    async stop() {
      await ferret?.stop();
      ferret = undefined;
    },
  };

  // --- the product's processes ------------------------------------------------------------------
  const appEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: taskQueue,
    MONGODB_URI: mongoUri,
    MONGODB_DATABASE: database,
    KLARNA_BASE_URL: options.klarnaBaseUrl,
    KLARNA_USERNAME: options.klarnaUsername,
    KLARNA_PASSWORD: options.klarnaPassword,
    PUBLIC_BASE_URL: apiUrl,
    CALLBACK_SECRET: callbackSecret,
    TOKEN_ENCRYPTION_KEY: encryptionKey.toString('base64'),
    // Workflow payload encryption (`<key id>:<base64 32-byte key>`), for versions that read it.
    PAYLOAD_ENCRYPTION_KEYS: `chaos:${randomBytes(32).toString('base64')}`,
    API_HOST: HOST,
    API_PORT: String(apiPort),
    LOG_LEVEL: options.logLevel ?? 'info',
  };

  const worker = supervisedProcess({
    name: 'worker',
    entry: 'worker/main.ts',
    env: appEnv,
    logDir,
    echo,
    ready: (pid, signal) => waitForWorkerPolling(temporalAddress, taskQueue, pid, signal),
  });
  const api = supervisedProcess({
    name: 'api',
    entry: 'api/main.ts',
    env: appEnv,
    logDir,
    echo,
    ready: (_pid, signal) => waitForPort(HOST, apiPort, 120_000, signal),
  });

  const stack: ChaosStack = {
    dir,
    ports: { temporal: temporalPort, ferretdb: ferretdbPort, api: apiPort },
    apiUrl,
    temporalAddress,
    taskQueue,
    mongoUri,
    database,
    encryptionKey,
    callbackSecret,
    temporal,
    ferretdb,
    worker,
    api,
    async ensureUp() {
      await Promise.all([temporal.start(), ferretdb.start()]);
      await Promise.all([
        worker.isRunning() ? worker.waitReady() : worker.start(),
        api.isRunning() ? api.waitReady() : api.start(),
      ]);
    },
    async stop(stopOptions = {}) {
      await Promise.allSettled([api.stop(), worker.stop()]);
      await Promise.allSettled([temporal.stop(), ferretdb.stop()]);
      if (!stopOptions.keepDir) await rm(dir, { recursive: true, force: true });
    },
  };

  try {
    await stack.ensureUp();
  } catch (err) {
    const tails = [worker, api].map((p) => `${p.name}: ${p.logFile() ?? '(not started)'}`).join(', ');
    await stack.stop({ keepDir: true });
    throw new Error(`the chaos stack did not start (logs: ${tails}): ${(err as Error).message}`, { cause: err });
  }
  return stack;
}

/** Three distinct ports, free now, kept for the whole suite (every restart comes back on them). */
async function freePorts(): Promise<{ temporalPort: number; ferretdbPort: number; apiPort: number }> {
  const ports = new Set<number>();
  while (ports.size < 3) ports.add(await getFreePort(HOST));
  const [temporalPort, ferretdbPort, apiPort] = [...ports] as [number, number, number];
  return { temporalPort, ferretdbPort, apiPort };
}

// --- supervised worker / API processes ------------------------------------------------------------

interface SupervisedOptions {
  name: string;
  entry: string;
  env: NodeJS.ProcessEnv;
  logDir: string;
  echo: boolean;
  /** Resolves once the run with this pid is ready; rejects when `signal` fires (the run exited). */
  ready: (pid: number, signal: AbortSignal) => Promise<void>;
}

interface Run {
  child: ManagedChild;
  log: WriteStream;
  logFile: string;
  /** Aborted when the run exits. */
  exited: AbortController;
  ready: Promise<void>;
  /** Set before the suite stops or kills this run on purpose. */
  intended: boolean;
}

const RESTART_BACKOFF_MS = [1_000, 2_000, 4_000, 8_000];

function supervisedProcess(options: SupervisedOptions): AppProcessControl {
  let current: Run | undefined;
  let runCount = 0;
  let backoffStep = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  const unexpectedExits: string[] = [];

  function launch(): Run {
    runCount += 1;
    const logFile = join(options.logDir, `${options.name}-${runCount}.log`);
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = spawnChild(options.name, process.execPath, ['--import', 'tsx', options.entry], {
      cwd: repoRoot,
      env: options.env,
      echo: options.echo,
      graceMs: 15_000,
      // Handled below (supervision).
      onUnexpectedExit: () => undefined,
    });
    child.process.stdout?.pipe(log, { end: false });
    child.process.stderr?.pipe(log, { end: false });
    const exited = new AbortController();
    const run: Run = { child, log, logFile, exited, intended: false, ready: Promise.resolve() };
    const startedAt = Date.now();
    run.ready = child.process.pid === undefined ? Promise.reject(new Error(`${options.name} could not be started`)) : options.ready(child.process.pid, exited.signal);
    // Readiness is awaited by whoever needs it; an unobserved failure must not crash the suite.
    run.ready.catch(() => undefined);

    void child.exited.then((info) => {
      exited.abort(new Error(`${options.name} ${describeExit(info)}`));
      // Let the pipes drain before closing the file.
      setTimeout(() => log.end(), 200);
      if (run.intended || current !== run) return;
      unexpectedExits.push(describeExit(info));
      // A run that stayed up a while resets the back-off, as container runtimes do.
      if (Date.now() - startedAt > 10_000) backoffStep = 0;
      const delay = RESTART_BACKOFF_MS[Math.min(backoffStep, RESTART_BACKOFF_MS.length - 1)]!;
      backoffStep += 1;
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        if (current === run) current = launch();
      }, delay);
    });
    return run;
  }

  async function end(how: 'kill' | 'stop'): Promise<ExitInfo | undefined> {
    if (restartTimer) clearTimeout(restartTimer);
    restartTimer = undefined;
    const run = current;
    current = undefined;
    if (!run || run.child.hasExited()) return undefined;
    run.intended = true;
    if (how === 'stop') return run.child.stop();
    const pid = run.child.process.pid;
    if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL'); // the whole group: tsx's loader has no helper process, but be sure
      } catch {
        run.child.process.kill('SIGKILL');
      }
    }
    return run.child.exited;
  }

  const control: AppProcessControl = {
    name: options.name,
    pid: () => (current && !current.child.hasExited() ? current.child.process.pid : undefined),
    isRunning: () => current !== undefined,
    async start() {
      if (current) await end('stop');
      current = launch();
      await control.waitReady();
    },
    async waitReady(timeoutMs = 150_000) {
      const deadline = Date.now() + timeoutMs;
      // Across supervised restarts: wait for whichever run is current.
      for (;;) {
        const run = current;
        if (!run) throw new Error(`${options.name} is not running`);
        try {
          await run.ready;
          return;
        } catch (err) {
          if (Date.now() > deadline) {
            throw new Error(`${options.name} not ready within ${Math.round(timeoutMs / 1000)} s (log: ${run.logFile}): ${(err as Error).message}`);
          }
          // That run died; its replacement is on its way (or the suite stopped it).
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    },
    kill: () => end('kill'),
    async stop() {
      await end('stop');
    },
    unexpectedExits,
    runs: () => runCount,
    logFile: () => current?.logFile ?? (runCount ? join(options.logDir, `${options.name}-${runCount}.log`) : undefined),
  };
  return control;
}

/**
 * Ready = this process (SDK identity `<pid>@<host>`) polls the workflow task queue. The worker
 * bundles the workflows before it polls: some seconds on two cores.
 */
export async function waitForWorkerPolling(address: string, taskQueue: string, pid: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + 150_000;
  const identity = `${pid}@${hostname()}`;
  let last: unknown;
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 3_000 });
      const { pollers } = await connection.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: taskQueue },
        taskQueueType: protos.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      if (pollers?.some((p) => p.identity === identity || p.identity?.startsWith(`${pid}@`))) return;
      last = new Error('not polling yet');
    } catch (err) {
      last = err;
    } finally {
      await connection?.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the worker (pid ${pid}) did not poll task queue ${taskQueue} within 150 s: ${String(last)}`);
}
