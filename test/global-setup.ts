import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { killChildrenOnSignals } from '../stack/child-processes.js';
import { startFerretDb, type FerretDb } from '../stack/ferretdb.js';
import { getFreePort } from '../stack/ports.js';
import { startTemporalDevServer, type TemporalDevServer } from '../stack/temporal-dev-server.js';
import { resolveToolPath } from '../stack/tool-paths.js';

// One Temporal dev server (headless, in memory, the flows' search attributes registered) and one
// FerretDB (SQLite in a temporary directory) for the whole run, on free ports, handed to the tests
// with `inject('temporalAddress' | 'mongoUri' | 'temporalTestServerPath')` (types in
// test/support/provided-context.d.ts). Tests isolate themselves by task queue and database name.
//
// TEST_TEMPORAL_ADDRESS / TEST_MONGODB_URI: use an existing server instead (e.g. real MongoDB);
// TEST_SERVERS_ECHO=true: print the servers' output.

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  // A Ctrl-C that kills vitest must not leave the servers behind.
  killChildrenOnSignals();
  const echo = process.env.TEST_SERVERS_ECHO === 'true';
  const temporalTestServerPath = resolveToolPath('temporal-test-server');
  let temporal: TemporalDevServer | undefined;
  let ferretdb: FerretDb | undefined;
  let dataDir: string | undefined;

  const teardown = async () => {
    await Promise.allSettled([temporal?.stop(), ferretdb?.stop()]);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };

  try {
    const existingTemporal = process.env.TEST_TEMPORAL_ADDRESS;
    const existingMongo = process.env.TEST_MONGODB_URI;
    if (!existingMongo) {
      const dir = (dataDir = await mkdtemp(join(tmpdir(), 'kts-ferretdb-')));
      // Also when vitest is interrupted and teardown never runs.
      process.prependListener('exit', () => rmSync(dir, { recursive: true, force: true }));
    }
    [temporal, ferretdb] = await Promise.all([
      existingTemporal ? undefined : getFreePort().then((port) => startTemporalDevServer({ port, headless: true, echo, name: 'test-temporal' })),
      dataDir ? getFreePort().then((port) => startFerretDb({ port, dataDir: dataDir!, echo, name: 'test-ferretdb' })) : undefined,
    ]);
    project.provide('temporalAddress', temporal?.address ?? existingTemporal!);
    project.provide('mongoUri', ferretdb?.uri ?? existingMongo!);
    project.provide('temporalTestServerPath', temporalTestServerPath);
  } catch (err) {
    await teardown();
    throw err;
  }
  if (echo) console.log(`test servers up in ${Date.now() - started} ms: Temporal ${temporal?.address}, MongoDB ${ferretdb?.uri}`);
  return teardown;
}
