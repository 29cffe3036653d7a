import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import { registerSearchAttributes } from '../temporal/register-search-attributes.js';
import { customSearchAttributes } from '../workflows/search-attributes.js';
import { describeExit, spawnChild, type ManagedChild } from './child-processes.js';
import { resolveToolPath } from './tool-paths.js';
import { waitForPort } from './ports.js';

// The Temporal CLI's dev server (`temporal server start-dev`): the embedded Temporal of the dev
// stack and of the test suite, with the flows' custom search attributes registered at start.

export interface TemporalDevServerOptions {
  /** Frontend gRPC port. */
  port: number;
  /** Web UI port (default: the CLI's choice, port + 1000). Ignored when headless. */
  uiPort?: number;
  /** No Web UI (tests). */
  headless?: boolean;
  /** The Web UI decodes payloads through this remote codec (`--ui-codec-endpoint`, e.g. `<API>/codec`). */
  uiCodecEndpoint?: string;
  /** SQLite file to keep state in between runs; in memory when absent. */
  dbFile?: string;
  /** Namespace to use; `default` always exists, another one is created at start. */
  namespace?: string;
  /** Server log level (default `warn`). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Print the server's output prefixed with `[name]` (default true). */
  echo?: boolean;
  /** Child name in output and errors (default `temporal`). */
  name?: string;
  /** How long to wait for the server to serve the namespace (default 60 s: slow on a busy 2-core box). */
  readyTimeoutMs?: number;
  /** Binary to run (default: resolveToolPath('temporal')). */
  executable?: string;
}

export interface TemporalDevServer {
  /** `127.0.0.1:<port>`, for TEMPORAL_ADDRESS. */
  address: string;
  namespace: string;
  /** The Web UI, unless headless. */
  uiUrl?: string;
  child: ManagedChild;
  stop(): Promise<void>;
}

// The CLI's spelling of the SDK's search attribute types.
const cliType: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/** `--search-attribute Name=Type` for every key in workflows/search-attributes.ts. */
export function searchAttributeArgs(): string[] {
  return customSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=${cliType[key.type]}`]);
}

export function temporalDevServerArgs(options: TemporalDevServerOptions): string[] {
  const namespace = options.namespace ?? 'default';
  return [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    ...(options.headless ? ['--headless'] : options.uiPort ? ['--ui-port', String(options.uiPort)] : []),
    // Offline machines: the UI would otherwise fetch a news feed from the internet.
    ...(options.headless ? [] : ['--ui-disable-news-fetch']),
    ...(!options.headless && options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : []),
    ...(options.dbFile ? ['--db-filename', options.dbFile] : []),
    '--namespace',
    namespace,
    '--log-level',
    options.logLevel ?? 'warn',
    ...searchAttributeArgs(),
    // Workflow Updates (the API's awaitCheckoutSession) and update-with-start. On by default in
    // the server the CLI 1.9 embeds (1.32), but not in every version the CLI can be swapped for
    // (TEMPORAL_CLI_PATH); the SDK's own dev-server launcher sets them too.
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value',
    'frontend.enableExecuteMultiOperation=true',
  ];
}

/**
 * Starts the dev server and resolves once it serves the namespace with the search attributes
 * registered (a real gRPC round trip, not only an open port). Rejects, with the server's last
 * output, if it exits or is not ready within the timeout.
 */
export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const name = options.name ?? 'temporal';
  const namespace = options.namespace ?? 'default';
  const host = '127.0.0.1';
  const address = `${host}:${options.port}`;
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  if (options.dbFile) mkdirSync(dirname(options.dbFile), { recursive: true });

  const executable = options.executable ?? resolveToolPath('temporal');
  const child = spawnChild(name, executable, temporalDevServerArgs(options), { echo: options.echo, graceMs: 10_000 });
  const stop = async () => {
    await child.stop();
  };

  const died = new AbortController();
  void child.exited.then(() => died.abort());
  try {
    await waitForPort(host, options.port, timeoutMs, died.signal);
    await waitUntilServing(address, namespace, timeoutMs, died.signal);
  } catch (err) {
    // Exited by itself, or still running and stopped here (then its exit says nothing: the wait's error does).
    const exitedByItself = child.hasExited();
    await stop();
    const why = exitedByItself ? `the Temporal dev server ${describeExit(await child.exited)}` : (err as Error).message;
    throw new Error(`Temporal dev server on ${address} did not start: ${why}\n--- last output ---\n${child.recentOutput()}`, {
      cause: err,
    });
  }

  const uiPort = options.headless ? undefined : (options.uiPort ?? options.port + 1000);
  return { address, namespace, uiUrl: uiPort ? `http://${host}:${uiPort}` : undefined, child, stop };
}

async function waitUntilServing(address: string, namespace: string, timeoutMs: number, abort: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const wanted = customSearchAttributes.map((k) => k.name);
  let last: unknown;
  while (Date.now() < deadline) {
    abort.throwIfAborted();
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 5_000 });
      await connection.workflowService.describeNamespace({ namespace });
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      const missing = wanted.filter((n) => !(n in (customAttributes ?? {})));
      if (missing.length === 0) return;
      last = new Error(`search attributes not registered yet: ${missing.join(', ')}`);
      // The CLI registers its --search-attribute flags only in a new database: a dev database made
      // before a key was added (SubscriptionId) gets it here.
      await registerSearchAttributes(connection, namespace).catch((err: unknown) => (last = err));
    } catch (err) {
      last = err;
    } finally {
      await connection?.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`namespace ${namespace} not served within ${Math.round(timeoutMs / 1000)} s: ${String(last)}`);
}
