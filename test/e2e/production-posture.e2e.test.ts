import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { DEV_CALLBACK_SECRET } from '../../config/dev-secrets.js';
import { connectMongo } from '../../persistence/mongo.js';
import { getFreePort, waitForPort } from '../../stack/ports.js';
import { repoRoot } from '../../stack/tool-paths.js';
import { ephemeralPayloadKeys, formatPayloadKeys } from '../../temporal/payload-codec.js';

// The shipped processes (`npm run api`, `npm run worker`) in production mode: on a development
// configuration they refuse to start, naming every problem in one message, before connecting to
// anything; on a production configuration the API starts and holds the line (bearer tokens,
// headers). On the suite's Temporal dev server and FerretDB.

interface Exit {
  code: number | null;
  output: string;
}

function run(entry: string, env: NodeJS.ProcessEnv, untilMs = 60_000): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(repoRoot, 'node_modules', '.bin', 'tsx'), [entry], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} did not exit within ${untilMs} ms:\n${output}`));
    }, untilMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const base = (): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  TEMPORAL_ADDRESS: inject('temporalAddress'),
  MONGODB_URI: inject('mongoUri'),
  KLARNA_BASE_URL: 'https://api.playground.klarna.com',
  KLARNA_USERNAME: 'PK0001_merchant',
  KLARNA_PASSWORD: randomBytes(16).toString('base64url'),
  LOG_LEVEL: 'warn',
});

/** What `npm run dev` and docker compose hand the processes, with NODE_ENV=production set by someone. */
const developmentValues = {
  NODE_ENV: 'production',
  PUBLIC_BASE_URL: 'http://api:3000',
  CALLBACK_SECRET: DEV_CALLBACK_SECRET,
  TOKEN_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'),
  PAYLOAD_ENCRYPTION_KEYS: `compose-dev-1:Y29tcG9zZS1kZXYtcGF5bG9hZC1rZXktTk9ULXVzZSE=`,
  API_HOST: '0.0.0.0',
  KLARNA_PASSWORD: 'sim-secret',
};

describe('production mode in the shipped processes', () => {
  it.each(['api/main.ts', 'worker/main.ts'])('%s refuses a development configuration, naming every problem at once', async (entry) => {
    const { code, output } = await run(entry, { ...base(), ...developmentValues });
    expect(code).toBe(1);
    expect(output).toMatch(/^Invalid configuration:\n/);
    const expected =
      entry === 'api/main.ts'
        ? ['PUBLIC_BASE_URL', 'CALLBACK_SECRET', 'TOKEN_ENCRYPTION_KEY', 'PAYLOAD_ENCRYPTION_KEYS', 'API_HOST']
        : ['PUBLIC_BASE_URL', 'CALLBACK_SECRET', 'TOKEN_ENCRYPTION_KEY', 'PAYLOAD_ENCRYPTION_KEYS', 'KLARNA_PASSWORD'];
    for (const variable of expected) expect(output).toMatch(new RegExp(`\\n  - ${variable}: .*\\(production mode, NODE_ENV=production\\)`));
    // Refused before it connected anywhere or said anything else.
    expect(output.trim().split('\n').every((line) => line.startsWith('Invalid configuration') || line.startsWith('  - '))).toBe(true);
  }, 90_000);

  describe('on a production configuration', () => {
    const token = randomBytes(24).toString('base64url');
    const database = `test_production_${randomUUID().slice(0, 8)}`;
    let api: ReturnType<typeof spawn> | undefined;
    afterAll(async () => {
      api?.kill('SIGTERM');
      const mongo = await connectMongo({ uri: inject('mongoUri'), database });
      await mongo.db.dropDatabase().catch(() => undefined);
      await mongo.close();
    });

    it('the API starts, and takes only its bearer tokens', async () => {
      const port = await getFreePort();
      api = spawn(join(repoRoot, 'node_modules', '.bin', 'tsx'), ['api/main.ts'], {
        cwd: repoRoot,
        stdio: 'ignore',
        env: {
          ...base(),
          APP_ENV: 'production',
          MONGODB_DATABASE: database,
          PUBLIC_BASE_URL: 'https://payments.merchant.test',
          CALLBACK_SECRET: randomBytes(24).toString('base64url'),
          TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
          PAYLOAD_ENCRYPTION_KEYS: formatPayloadKeys(ephemeralPayloadKeys()),
          API_HOST: '127.0.0.1',
          API_PORT: String(port),
          API_AUTH_TOKENS: `${randomBytes(24).toString('base64url')},${token}`,
        },
      });
      await waitForPort('127.0.0.1', port, 60_000);
      const url = `http://127.0.0.1:${port}/v1/flows`;
      const anonymous = await fetch(url);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toEqual({ error: 'unauthorized', message: 'Missing or wrong bearer token.' });
      const authorized = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(authorized.status).toBe(200);
      expect(authorized.headers.get('cache-control')).toBe('no-store');
      expect(authorized.headers.get('x-content-type-options')).toBe('nosniff');
      const doc = (await (await fetch(`http://127.0.0.1:${port}/openapi.json`)).json()) as { servers: { url: string }[] };
      expect(doc.servers[0]!.url).toBe('https://payments.merchant.test');
    }, 90_000);
  });
});
