import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// klarna-simulator/main.ts as a process: env validation, startup log, SIGTERM.

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
