// `npm run fuzz:api`: the API's OpenAPI document as a contract, checked by schemathesis with every
// check it has, against the product on real servers: its own Temporal dev server (in memory) and
// FerretDB (temporary directory), and the in-process app (stack/in-process-app.ts: the Klarna
// simulator, the API on a real socket and a worker), with bearer authentication on.
//
// Reproducible and bounded: a fixed seed (FUZZ_SEED, default 1) and at most FUZZ_MAX_EXAMPLES
// test cases per operation and phase (default 30). Any failure fails the run; schemathesis prints
// a curl line reproducing each one. Reports (JUnit XML, NDJSON) go to FUZZ_REPORT_DIR (default
// .data/fuzz-report/). Needs schemathesis: `bash scripts/install-tools.sh --schemathesis`
// (the npm script runs it), or SCHEMATHESIS_PATH.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { defaultRateLimits } from '../api/plugins/http-guard.js';
import { killChildrenOnSignals } from '../stack/child-processes.js';
import { startFerretDb } from '../stack/ferretdb.js';
import { startInProcessApp } from '../stack/in-process-app.js';
import { getFreePort } from '../stack/ports.js';
import { startTemporalDevServer } from '../stack/temporal-dev-server.js';
import { repoRoot } from '../stack/tool-paths.js';

const say = (message: string) => process.stdout.write(`fuzz: ${message}\n`);
const fail = (message: string): never => {
  process.stderr.write(`fuzz: ${message}\n`);
  process.exit(1);
};

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) fail(`${name}=${raw} is not a positive integer`);
  return n;
}

function schemathesisPath(): string {
  const executable = (path: string) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  const fromEnv = process.env.SCHEMATHESIS_PATH;
  if (fromEnv) return executable(fromEnv) ? fromEnv : fail(`SCHEMATHESIS_PATH=${fromEnv} is not executable`);
  const installed = join(repoRoot, '.tools', 'schemathesis', 'bin', 'schemathesis');
  if (executable(installed)) return installed;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, 'schemathesis'))) return join(dir, 'schemathesis');
  }
  return fail('schemathesis not found: run `bash scripts/install-tools.sh --schemathesis`, or set SCHEMATHESIS_PATH');
}

const seed = positiveInt('FUZZ_SEED', 1);
const maxExamples = positiveInt('FUZZ_MAX_EXAMPLES', 30);
const reportDir = process.env.FUZZ_REPORT_DIR || join(repoRoot, '.data', 'fuzz-report');
const schemathesis = schemathesisPath();

// Fuzzed authorizations make activities fail by design (Klarna: not found): only errors are news.
Runtime.install({ logger: new DefaultLogger('ERROR') });
killChildrenOnSignals();
const dataDir = await mkdtemp(join(tmpdir(), 'kts-fuzz-'));
const [temporal, ferretdb] = await Promise.all([
  getFreePort().then((port) => startTemporalDevServer({ port, headless: true, echo: false, name: 'fuzz-temporal' })),
  getFreePort().then((port) => startFerretDb({ port, dataDir, echo: false, name: 'fuzz-ferretdb' })),
]);
const authToken = `fuzz-${randomBytes(24).toString('base64url')}`;
// Production's limits (config/env.ts defaults), so the document's 429s are the real ones.
const app = await startInProcessApp({ temporalAddress: temporal.address, mongoUri: ferretdb.uri, authToken, rateLimits: defaultRateLimits });
say(`API ${app.apiUrl} (Temporal ${temporal.address}, MongoDB ${ferretdb.uri}); seed ${seed}, at most ${maxExamples} examples per operation`);

await mkdir(reportDir, { recursive: true });
const args = [
  'run',
  `${app.apiUrl}/openapi.json`,
  '--checks',
  'all',
  '--seed',
  String(seed),
  '--max-examples',
  String(maxExamples),
  '--workers',
  '1',
  '--header',
  `Authorization: Bearer ${authToken}`,
  '--request-timeout',
  '30',
  '--report',
  'junit,ndjson',
  '--report-dir',
  reportDir,
  '--no-color',
];
const status = await new Promise<number>((resolve) => {
  const child = spawn(schemathesis, args, {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
    // Plain, reproducible output: no telemetry, no update check, no terminal width guessing.
    // The hooks keep positive cases within the documented rules JSON Schema cannot state (see the file).
    env: {
      ...process.env,
      SCHEMATHESIS_HOOKS: join(repoRoot, 'scripts', 'fuzz-api-hooks.py'),
      SCHEMATHESIS_TELEMETRY: 'false',
      COLUMNS: process.env.COLUMNS ?? '120',
      NO_COLOR: '1',
    },
  });
  // Schemathesis frames its sections and its closing line like pytest ("==== 2 warnings in 70s
  // ===="), and CI reads such a line as a pytest result with no test counted. Framed lines are
  // printed as plain ones ("schemathesis: 2 warnings (70 s)"); every other line as it is.
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const framed = /^=+\s(.*\S)\s=+$/.exec(line);
    process.stdout.write(framed ? `schemathesis: ${framed[1]!.replace(/ in ([\d.]+)s$/, ' ($1 s)')}\n` : `${line}\n`);
  });
  child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  child.once('error', (err) => {
    process.stderr.write(`fuzz: could not run ${schemathesis}: ${err.message}\n`);
    resolve(1);
  });
});

await app.stop();
await Promise.allSettled([temporal.stop(), ferretdb.stop()]);
await rm(dataDir, { recursive: true, force: true });
say(status === 0 ? `no contract failures (reports in ${reportDir})` : `schemathesis exited ${status}: see the failures above (reports in ${reportDir})`);
process.exit(status);
