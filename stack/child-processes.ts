import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

// Named child processes for the dev stack and the test servers: output lines prefixed with the
// child's name (or kept quietly for error reports), every child tracked, all of them stopped
// (SIGTERM, then SIGKILL after a grace period) on shutdown, and an unexpected death reported.
// Children that should come back after a crash are started through stack/supervised-child.ts,
// which registers itself here (`registerSupervisor`) so that a shutdown stops it first.

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (e.g. ENOENT). */
  error?: Error;
}

export interface ChildOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Print the child's output, each line prefixed with `[name]` (default true), until `stop()` is
   * called. Either way the last lines are kept for `recentOutput()`.
   */
  echo?: boolean;
  /** Time between SIGTERM and SIGKILL when stopping (default 10 s). */
  graceMs?: number;
  /** Called when the child exits without `stop()` having been called. Default: a report on stderr. */
  onUnexpectedExit?: (child: ManagedChild, exit: ExitInfo) => void;
}

export interface ManagedChild {
  readonly name: string;
  readonly process: ChildProcess;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  hasExited(): boolean;
  /** The last lines of output (stdout and stderr), for error messages. */
  recentOutput(): string;
  /** SIGTERM, then SIGKILL (to its whole process group) after the grace period; resolves once it has exited. Idempotent. */
  stop(): Promise<ExitInfo>;
}

const children: ManagedChild[] = [];
const KEPT_LINES = 60;
const colors = [36, 33, 35, 32, 34, 31, 96, 93];
// One colour per name: a restarted child keeps its colour.
const colorOfName = new Map<string, number>();
let exitHookInstalled = false;

export function describeExit(exit: ExitInfo): string {
  if (exit.error) return `could not be started: ${exit.error.message}`;
  if (exit.signal) return `was killed by ${exit.signal}`;
  return `exited with code ${exit.code}`;
}

/**
 * Starts `command args` as a tracked child named `name`. The child gets its own process group, so
 * a terminal's Ctrl-C reaches only us and we stop the children in order (see `stopAllChildren`).
 */
export function spawnChild(name: string, command: string, args: readonly string[], options: ChildOptions = {}): ManagedChild {
  installExitHook();
  const echo = options.echo ?? true;
  const graceMs = options.graceMs ?? 10_000;
  const proc = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });

  const kept: string[] = [];
  let color = colorOfName.get(name);
  if (color === undefined) colorOfName.set(name, (color = colors[colorOfName.size % colors.length]!));
  const label = process.stdout.isTTY ? `\x1b[${color}m[${name}]\x1b[0m ` : `[${name}] `;
  const collect = (stream: NodeJS.ReadableStream | null, out: NodeJS.WriteStream) => {
    if (!stream) return;
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      kept.push(line);
      if (kept.length > KEPT_LINES) kept.shift();
      // Once asked to stop, servers log their shutdown chatter; keep it for reports only.
      if (echo && !stopping) out.write(`${label}${line}\n`);
    });
  };
  let exitInfo: ExitInfo | undefined;
  let stopping = false;
  collect(proc.stdout, process.stdout);
  collect(proc.stderr, process.stderr);

  const exited = new Promise<ExitInfo>((resolve) => {
    proc.once('exit', (code, signal) => resolve((exitInfo ??= { code, signal })));
    proc.once('error', (error) => {
      // 'error' without 'exit' means the process never started.
      if (proc.pid === undefined) resolve((exitInfo ??= { code: null, signal: null, error }));
    });
  });

  const child: ManagedChild = {
    name,
    process: proc,
    exited,
    hasExited: () => exitInfo !== undefined,
    recentOutput: () => kept.join('\n'),
    async stop() {
      stopping = true;
      if (exitInfo) return exitInfo;
      signal(proc, 'SIGTERM', false);
      const timer = setTimeout(() => signal(proc, 'SIGKILL', true), graceMs);
      const info = await exited;
      clearTimeout(timer);
      // Anything it started that outlived it (its process group).
      signal(proc, 'SIGKILL', true);
      return info;
    },
  };

  void exited.then((info) => {
    const index = children.indexOf(child);
    if (index >= 0) children.splice(index, 1);
    if (stopping) return;
    if (options.onUnexpectedExit) options.onUnexpectedExit(child, info);
    else {
      const tail = echo ? '' : `\n${indent(child.recentOutput())}`;
      process.stderr.write(`[${name}] ${describeExit(info)} unexpectedly${tail}\n`);
    }
  });

  children.push(child);
  return child;
}

/** The children started and not yet exited, in start order. */
export function runningChildren(): readonly ManagedChild[] {
  return [...children];
}

/** Something that starts children by itself (a restart supervisor): stopped before any child is. */
export interface ChildSupervisor {
  /** Stops its child, if running, and never starts another. Idempotent. */
  stop(): Promise<void>;
}

const supervisors: ChildSupervisor[] = [];

/** Registers a supervisor for `stopAllChildren`; returns the function that unregisters it. */
export function registerSupervisor(supervisor: ChildSupervisor): () => void {
  supervisors.push(supervisor);
  return () => {
    const index = supervisors.indexOf(supervisor);
    if (index >= 0) supervisors.splice(index, 1);
  };
}

/**
 * Stops every running child, each with SIGTERM and, after its grace period, SIGKILL: first the
 * supervised ones, the most recently registered supervisor first (so no restart can race the
 * shutdown), then the rest, the most recently started first (the API and the worker before the
 * servers they use).
 */
export async function stopAllChildren(): Promise<void> {
  for (const supervisor of [...supervisors].reverse()) await supervisor.stop();
  for (const child of [...children].reverse()) await child.stop();
}

/**
 * On SIGINT, SIGTERM or SIGHUP: stop every child, then exit (130 / 143 / 129). Another signal a
 * second or more later (Ctrl-C again) kills the children at once; one arriving sooner is the same
 * Ctrl-C relayed by a parent (npm, sh) and is ignored. `beforeStop` runs first, `afterStop` last.
 */
export function installShutdownHandlers(hooks: { beforeStop?: (signal: NodeJS.Signals) => void; afterStop?: () => void } = {}): void {
  let firstSignalAt: number | undefined;
  const codes: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (firstSignalAt !== undefined) {
        if (Date.now() - firstSignalAt < 1_000) return;
        process.stderr.write(`${sig} again: killing every child now\n`);
        killAllNow();
        process.exit(codes[sig]);
      }
      firstSignalAt = Date.now();
      hooks.beforeStop?.(sig);
      void stopAllChildren().finally(() => {
        hooks.afterStop?.();
        process.exit(codes[sig]);
      });
    });
  }
}

/**
 * For hosts that own the signal handling (vitest): on SIGINT, SIGTERM or SIGHUP, kill every child
 * at once, then leave the signal to the host's own handler, or, where it has none, to its default
 * action (the process dies as it would have). Without this, a Ctrl-C that kills the host leaves
 * the children running: they have their own process group.
 */
export function killChildrenOnSignals(): void {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    if (process.listenerCount(sig) > 0) {
      // First, before the host's handler (vitest's calls process.exit()).
      process.prependListener(sig, killAllNow);
    } else {
      process.once(sig, () => {
        killAllNow();
        process.kill(process.pid, sig);
      });
    }
  }
}

/** Sends SIGKILL to every running child's process group, synchronously (for `process.on('exit')`). */
export function killAllNow(): void {
  for (const child of children) signal(child.process, 'SIGKILL', true);
}

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort: whatever ends this process, leave no server behind. Prepended: a listener that
  // calls process.exit() again (vitest's does) ends the process before later listeners run.
  process.prependListener('exit', killAllNow);
}

function signal(proc: ChildProcess, sig: NodeJS.Signals, wholeGroup: boolean) {
  if (proc.pid === undefined) return;
  try {
    // Only the direct child gets SIGTERM (tsx forwards it to the node process it runs; signalling
    // the group too would deliver it twice). SIGKILL goes to the whole group.
    process.kill(wholeGroup ? -proc.pid : proc.pid, sig);
  } catch {
    // already gone
  }
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
