import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { MongoClient } from 'mongodb';
import { describeExit, spawnChild, type ManagedChild } from './child-processes.js';
import { indexFerretDbIdLookups } from './ferretdb-id-index.js';
import { waitForPort } from './ports.js';
import { resolveToolPath } from './tool-paths.js';

// FerretDB 1.24 on its SQLite backend: the MongoDB of the dev stack and of the test suite.
//
// Checked against the `mongodb` 6 driver (test/stack/servers.test.ts keeps checking it):
// insertOne/find, createIndex({ unique: true }) with E11000 (code 11000) on a duplicate,
// findOneAndUpdate with upsert (returns the document, `includeResultMetadata` works), ping.
// Gotchas:
// - No transactions, no change streams (FerretDB 1.x); the repositories use neither.
// - One SQLite file per database in the data directory; databases appear on first write.
// - Without `--debug-addr=-` it opens a debug HTTP listener on 127.0.0.1:8088, which collides as
//   soon as two run at once; without `--telemetry=disable` it tries to reach the internet.
// - It writes `state.json` into `--state-dir` (default: the working directory): we keep it in
//   the data directory.
// - The driver sends `endSessions` when a client closes; FerretDB 1.24 does not implement it and
//   logs each one at WARN with a full message dump (harmless). Hence log level `error` by default.
// - Ready when the driver's `ping` answers; the port opens slightly before that.

export interface FerretDbOptions {
  port: number;
  /** Directory for the SQLite files (created if missing). */
  dataDir: string;
  /** FerretDB log level (default `error`, see above). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Print FerretDB's output prefixed with `[name]` (default true). */
  echo?: boolean;
  /** Child name in output and errors (default `ferretdb`). */
  name?: string;
  /** Default 30 s. */
  readyTimeoutMs?: number;
  /** Binary to run (default: resolveToolPath('ferretdb')). */
  executable?: string;
}

export interface FerretDb {
  /** `mongodb://127.0.0.1:<port>/`, for MONGODB_URI. */
  uri: string;
  child: ManagedChild;
  /**
   * Adds the `_id` lookup index its queries can use to every collection of `database` that exists
   * now (stack/ferretdb-id-index.ts says why); run it once the app has created its collections.
   */
  indexIdLookups(database: string): Promise<number>;
  stop(): Promise<void>;
}

export function ferretDbArgs(options: FerretDbOptions): string[] {
  const dataDir = resolve(options.dataDir);
  return [
    '--handler=sqlite',
    `--sqlite-url=file:${dataDir}/`,
    `--state-dir=${dataDir}`,
    `--listen-addr=127.0.0.1:${options.port}`,
    '--debug-addr=-',
    '--telemetry=disable',
    `--log-level=${options.logLevel ?? 'error'}`,
  ];
}

/** Starts FerretDB and resolves once the MongoDB driver's `ping` answers. */
export async function startFerretDb(options: FerretDbOptions): Promise<FerretDb> {
  const name = options.name ?? 'ferretdb';
  const uri = `mongodb://127.0.0.1:${options.port}/`;
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  mkdirSync(options.dataDir, { recursive: true });

  const executable = options.executable ?? resolveToolPath('ferretdb');
  const child = spawnChild(name, executable, ferretDbArgs(options), { echo: options.echo, graceMs: 5_000 });
  const stop = async () => {
    await child.stop();
  };

  const died = new AbortController();
  void child.exited.then(() => died.abort());
  try {
    await waitForPort('127.0.0.1', options.port, timeoutMs, died.signal);
    await waitForPing(uri, timeoutMs, died.signal);
  } catch (err) {
    await stop();
    const why = child.hasExited() ? `FerretDB ${describeExit(await child.exited)}` : (err as Error).message;
    throw new Error(`FerretDB on port ${options.port} did not start: ${why}\n--- last output ---\n${child.recentOutput()}`, { cause: err });
  }
  return { uri, child, stop, indexIdLookups: (database) => indexFerretDbIdLookups(options.dataDir, database) };
}

async function waitForPing(uri: string, timeoutMs: number, abort: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    abort.throwIfAborted();
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 2_000, connectTimeoutMS: 2_000 });
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
      return;
    } catch (err) {
      last = err;
    } finally {
      await client.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no answer to ping at ${uri} within ${Math.round(timeoutMs / 1000)} s: ${String(last)}`);
}
