import { afterEach, describe, expect, it } from 'vitest';
import { runningChildren, stopAllChildren, type ExitInfo, type ManagedChild } from '../../stack/child-processes.js';
import { superviseChild, type SupervisedChild, type SupervisedChildOptions } from '../../stack/supervised-child.js';

// The dev stack's restart supervision (stack/supervised-child.ts) on a real child process: a tiny
// node script, not the stack. Delays are scaled down (100 ms doubling) so a test takes seconds.

// The child: prints "up <pid>", then exits with CHILD_EXIT_CODE after CHILD_LIFETIME_MS, or runs
// until SIGTERM when no lifetime is given.
const childScript = `
const lifetime = Number(process.env.CHILD_LIFETIME_MS || 0);
// The handler first: "up" tells the test that a SIGTERM now gets a clean exit.
process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(0); });
console.log('up ' + process.pid);
if (lifetime > 0) setTimeout(() => { console.error('crashing on purpose'); process.exit(Number(process.env.CHILD_EXIT_CODE || 3)); }, lifetime);
else setInterval(() => undefined, 1_000);
`;

interface Run {
  child: ManagedChild;
  startedAt: number;
  exit?: ExitInfo;
  exitedAt?: number;
}

function start(env: Record<string, string>, options: Omit<SupervisedChildOptions, 'onStart' | 'log'> = {}) {
  const runs: Run[] = [];
  const logs: string[] = [];
  const supervised = superviseChild('flaky', process.execPath, ['-e', childScript], {
    echo: false,
    graceMs: 2_000,
    env: { ...process.env, ...env },
    backoff: { initialDelayMs: 100, factor: 2, maxDelayMs: 400, stableAfterMs: 60_000 },
    ...options,
    log: (message) => logs.push(message),
    onStart: (child) => {
      const run: Run = { child, startedAt: Date.now() };
      runs.push(run);
      void child.exited.then((exit) => {
        run.exit = exit;
        run.exitedAt = Date.now();
      });
    },
  });
  started.push(supervised);
  return { supervised, runs, logs };
}

const started: SupervisedChild[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a supervised child', () => {
  it('is restarted after each crash with growing delays, each restart reported with the exit reason', async () => {
    const { supervised, runs, logs } = start({ CHILD_LIFETIME_MS: '30', CHILD_EXIT_CODE: '3' });
    // Crash, 100 ms, crash, 200 ms, crash, 400 ms, crash, 400 ms (capped), run 5.
    await until(() => runs.length >= 5);
    await supervised.stop();

    const gaps = runs.slice(1, 5).map((run, i) => run.startedAt - runs[i]!.exitedAt!);
    const expected = [100, 200, 400, 400];
    gaps.forEach((gap, i) => {
      // Never sooner than the delay; not much later either (a busy 2-core machine: generous).
      expect(gap, `gap before run ${i + 2}`).toBeGreaterThanOrEqual(expected[i]! - 2);
      expect(gap, `gap before run ${i + 2}`).toBeLessThan(expected[i]! + 1_000);
    });
    expect(gaps[1]!).toBeGreaterThan(gaps[0]!);
    expect(gaps[2]!).toBeGreaterThan(gaps[1]!);

    for (const run of runs.slice(0, 4)) expect(run.exit).toMatchObject({ code: 3, signal: null });
    const crashes = logs.filter((l) => l.startsWith('flaky exited'));
    expect(crashes.slice(0, 4).map((l) => l.split('\n')[0]!.replace(/after [\d.]+ m?s/, 'after T'))).toEqual([
      'flaky exited with code 3 after T; restarting in 100 ms',
      'flaky exited with code 3 after T; restarting in 200 ms, crash 2 in a row',
      'flaky exited with code 3 after T; restarting in 400 ms, crash 3 in a row',
      'flaky exited with code 3 after T; restarting in 400 ms, crash 4 in a row',
    ]);
    // Its output is not echoed (echo: false), so the report carries its last lines.
    expect(crashes[0]).toContain('crashing on purpose');
    expect(logs).toContain('restarting flaky (run 2)');
  });

  it('stops for good on a stop request, also one made while it waits to restart', async () => {
    const { supervised, runs, logs } = start({ CHILD_LIFETIME_MS: '30' });
    await until(() => logs.some((l) => l.includes('restarting in')));
    expect(supervised.current()).toBeUndefined(); // waiting out the back-off
    await supervised.stop();
    const count = runs.length;
    await sleep(800); // longer than any delay it could have been waiting
    expect(runs.length).toBe(count);
    expect(supervised.isStopped()).toBe(true);
    expect(supervised.current()).toBeUndefined();
    await expect(supervised.running()).rejects.toThrow(/stopped/);
    expect(runs.every((run) => !isAlive(run.child.process.pid))).toBe(true);
  });

  it('stops a running child with SIGTERM and does not restart it', async () => {
    const { supervised, runs, logs } = start({});
    await until(() => runs[0]?.child.recentOutput().includes('up ') ?? false);
    const pid = runs[0]!.child.process.pid;
    expect(isAlive(pid)).toBe(true);
    await supervised.stop();
    expect(runs[0]!.exit).toEqual({ code: 0, signal: null });
    expect(runs[0]!.child.recentOutput()).toContain('got SIGTERM');
    expect(isAlive(pid)).toBe(false);
    await sleep(400);
    expect(runs.length).toBe(1);
    expect(logs.filter((l) => l.includes('restarting'))).toEqual([]);
    // Idempotent.
    await supervised.stop();
  });

  it('reports a child killed by a signal and restarts it', async () => {
    const { runs, logs } = start({});
    await until(() => runs[0]?.child.recentOutput().includes('up ') ?? false);
    process.kill(runs[0]!.child.process.pid!, 'SIGKILL');
    await until(() => runs.length >= 2);
    expect(logs[0]).toMatch(/^flaky was killed by SIGKILL after [\d.]+ m?s; restarting in 100 ms/);
  });

  it('starts the back-off again after a stable run', async () => {
    // Runs last 250 ms, longer than stableAfterMs: every crash is "the first".
    const { supervised, runs, logs } = start(
      { CHILD_LIFETIME_MS: '250' },
      { backoff: { initialDelayMs: 100, factor: 2, maxDelayMs: 400, stableAfterMs: 200 } },
    );
    await until(() => runs.length >= 4);
    await supervised.stop();
    const crashes = logs.filter((l) => l.startsWith('flaky exited'));
    expect(crashes.length).toBeGreaterThanOrEqual(3);
    for (const line of crashes) expect(line).toMatch(/restarting in 100 ms(\n|$)/);
  });

  it('is replaced at once by restart() (watch mode), with the back-off reset', async () => {
    const { supervised, runs, logs } = start({});
    await until(() => runs[0]?.child.recentOutput().includes('up ') ?? false);
    const before = Date.now();
    // Two calls in a row fold into one restart.
    await Promise.all([supervised.restart('a.ts changed'), supervised.restart('b.ts changed')]);
    expect(runs.length).toBe(2);
    expect(runs[0]!.exit).toEqual({ code: 0, signal: null }); // stopped with SIGTERM, not crashed
    expect(runs[1]!.startedAt - before).toBeLessThan(2_000);
    expect(supervised.current()).toBe(runs[1]!.child);
    expect(await supervised.running()).toBe(runs[1]!.child);
    expect(logs).toEqual(['restarting flaky: a.ts changed']);
  });

  it('restart() cuts a pending back-off short', async () => {
    const { runs, logs, supervised } = start(
      { CHILD_LIFETIME_MS: '30' },
      { backoff: { initialDelayMs: 5_000, maxDelayMs: 5_000, stableAfterMs: 60_000 } },
    );
    await until(() => logs.some((l) => l.includes('restarting in 5 s')));
    const before = Date.now();
    await supervised.restart('fixed.ts changed');
    expect(runs.length).toBe(2);
    expect(runs[1]!.startedAt - before).toBeLessThan(1_000);
  });

  it('is stopped, with no restart afterwards, by stopAllChildren (what Ctrl-C runs)', async () => {
    const crashing = start({ CHILD_LIFETIME_MS: '30' });
    const steady = start({});
    await until(() => crashing.logs.some((l) => l.includes('restarting in')) && steady.runs.length === 1);
    await stopAllChildren();
    expect(crashing.supervised.isStopped()).toBe(true);
    expect(steady.supervised.isStopped()).toBe(true);
    expect(runningChildren()).toEqual([]);
    const count = crashing.runs.length;
    await sleep(600);
    expect(crashing.runs.length).toBe(count);
    expect(steady.runs.length).toBe(1);
  });
});
