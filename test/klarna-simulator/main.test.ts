import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { simulatorConfigFromEnv } from '../../klarna-simulator/config.js';
import { buildKlarnaSimulator } from '../../klarna-simulator/server.js';
import { basicAuth, call, credentials, expectKlarnaError, sessionBody } from './helpers.js';

// klarna-simulator/main.ts as a process (env validation, startup log, SIGTERM, production mode)
// and the configuration rules behind it (klarna-simulator/config.ts).

function runMain(env: Record<string, string>, untilOutput?: RegExp, timeoutMs = 20_000) {
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'klarna-simulator/main.ts'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out; output so far:\n${output}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (untilOutput && untilOutput.test(output)) child.kill('SIGTERM');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('klarna-simulator/main.ts', () => {
  it('exits 1 with a message naming the variable for a bad SIMULATOR_PORT or SIMULATOR_CONTROLS', async () => {
    const bad = await runMain({ SIMULATOR_PORT: 'eighty', SIMULATOR_CONTROLS: 'maybe' });
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('Invalid SIMULATOR_PORT');
    expect(bad.output).toContain('Invalid SIMULATOR_CONTROLS');
  });

  it('starts, logs its URL, and stops cleanly on SIGTERM', async () => {
    const run = await runMain({ SIMULATOR_PORT: '0', SIMULATOR_HOST: '127.0.0.1' }, /Klarna simulator listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(run.output).toMatch(/Klarna simulator listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(run.output).toContain('Klarna simulator stopping');
    expect(run.code).toBe(0);
  });
});

/** Starts main.ts, waits for its URL, runs `use` against it, then stops it with SIGTERM. */
async function withMain(env: Record<string, string>, use: (url: string) => Promise<void>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'klarna-simulator/main.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL in time; output:\n${output}`)), 20_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
  try {
    await use(url);
  } finally {
    child.kill('SIGTERM');
  }
  return { code: await exited, output };
}

describe('production builds have no controls', () => {
  it('NODE_ENV=production: /_sim/* answers 404 (not registered), Klarna paths work; the log says controls:false', async () => {
    const run = await withMain({ SIMULATOR_PORT: '0', NODE_ENV: 'production' }, async (url) => {
      for (const [method, path] of [
        ['GET', '/_sim/clock'],
        ['POST', '/_sim/reset'],
        ['POST', '/_sim/sessions/x/authorize'],
        ['GET', '/_sim/hpp/x'],
      ] as const) {
        expectKlarnaError(await call(url, method, path, undefined, {}, null), 404, 'NOT_FOUND');
        expectKlarnaError(await call(url, method, path, undefined, {}, 'Basic ' + Buffer.from('sim-merchant:sim-secret').toString('base64')), 404, 'NOT_FOUND');
      }
      const session = await call(url, 'POST', '/payments/v1/sessions', sessionBody(), {}, 'Basic ' + Buffer.from('sim-merchant:sim-secret').toString('base64'));
      expect(session.status).toBe(200);
    });
    expect(run.output).toMatch(/"controls":false/);
    expect(run.code).toBe(0);
  });

  it('NODE_ENV=production with SIMULATOR_CONTROLS=true refuses to start (exit 1, names the variable)', async () => {
    const bad = await runMain({ NODE_ENV: 'production', SIMULATOR_CONTROLS: 'true', SIMULATOR_PORT: '0' });
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('Invalid SIMULATOR_CONTROLS: the /_sim controls cannot be turned on with NODE_ENV=production');
  });

  it('config rules: controls on by default, off with SIMULATOR_CONTROLS=false or NODE_ENV=production', () => {
    const controls = (env: Record<string, string>) => {
      const r = simulatorConfigFromEnv(env);
      if (!r.ok) throw new Error(r.errors.join('; '));
      return r.config.controls;
    };
    expect(controls({})).toBe(true);
    expect(controls({ SIMULATOR_CONTROLS: 'true' })).toBe(true);
    expect(controls({ SIMULATOR_CONTROLS: 'false' })).toBe(false);
    expect(controls({ NODE_ENV: 'production' })).toBe(false);
    expect(controls({ NODE_ENV: 'production', SIMULATOR_CONTROLS: 'false' })).toBe(false);
  });

  it('config: a webhook endpoint needs its signing key; API key and public URL are passed on', () => {
    expect(simulatorConfigFromEnv({ SIMULATOR_WEBHOOK_URL: 'https://partner.example/hooks' })).toEqual({
      ok: false,
      errors: ['Invalid SIMULATOR_WEBHOOK_SIGNING_KEY: required with SIMULATOR_WEBHOOK_URL'],
    });
    const r = simulatorConfigFromEnv({
      SIMULATOR_WEBHOOK_URL: 'https://partner.example/hooks',
      SIMULATOR_WEBHOOK_SIGNING_KEY: 'k'.repeat(32),
      SIMULATOR_WEBHOOK_SIGNING_KEY_ID: 'key-1',
      SIMULATOR_API_KEY: 'klarna_test_api_abc',
      SIMULATOR_PUBLIC_URL: 'http://localhost:8090',
    });
    expect(r).toMatchObject({
      ok: true,
      config: {
        apiKey: 'klarna_test_api_abc',
        publicUrl: 'http://localhost:8090',
        webhooks: [{ url: 'https://partner.example/hooks', signing_key: 'k'.repeat(32), signing_key_id: 'key-1' }],
      },
    });
  });

  it('in-process: controls:false, or NODE_ENV=production without the option, registers no /_sim route', async () => {
    const saved = process.env.NODE_ENV;
    try {
      process.env.NODE_ENV = 'production';
      for (const options of [{ ...credentials }, { ...credentials, controls: false }]) {
        const app = await buildKlarnaSimulator(options);
        await app.ready();
        expect(app.printRoutes()).not.toContain('_sim');
        expect(app.hasRoute({ method: 'POST', url: '/_sim/reset' })).toBe(false);
        const r = await app.inject({ method: 'GET', url: '/_sim/clock' });
        expect(r.statusCode).toBe(404);
        expect(r.json()).toMatchObject({ error_code: 'NOT_FOUND' });
        expect((await app.inject({ method: 'POST', url: '/payments/v1/sessions', headers: { authorization: basicAuth }, payload: sessionBody() })).statusCode).toBe(200);
        await app.close();
      }
      // Asked for explicitly in code, they are there (a test harness running with NODE_ENV=production).
      const explicit = await buildKlarnaSimulator({ ...credentials, controls: true });
      expect(explicit.hasRoute({ method: 'POST', url: '/_sim/reset' })).toBe(true);
      await explicit.close();
    } finally {
      if (saved === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = saved;
    }
  });
});
