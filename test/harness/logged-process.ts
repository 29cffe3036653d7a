import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../stack/tool-paths.js';

/** A shipped entry point (`api/main.ts`, `worker/main.ts`) run as its own process, every output line kept. */
export interface LoggedProcess {
  child: ChildProcess;
  lines: string[];
}

/**
 * Starts `entry` with `env` only. `launcher`: `node` (Node with tsx's loader: one process, so a
 * SIGTERM reaches it directly) or `tsx-cli` (the tsx CLI, as a user's shell runs it).
 */
export function startLoggedProcess(entry: string, env: NodeJS.ProcessEnv, launcher: 'node' | 'tsx-cli' = 'node'): LoggedProcess {
  const [command, args] = launcher === 'node' ? [process.execPath, ['--import', 'tsx', entry]] : [join(repoRoot, 'node_modules', '.bin', 'tsx'), [entry]];
  const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const collect = (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  return { child, lines };
}

/** SIGTERM, then its exit code (null: ended by a signal); at once if it has exited or never ran. */
export async function stopLoggedProcess(proc: LoggedProcess | undefined): Promise<number | null> {
  if (!proc || proc.child.exitCode !== null) return proc?.child.exitCode ?? null;
  const exited = new Promise<number | null>((resolve) => proc.child.once('exit', (code) => resolve(code)));
  proc.child.kill('SIGTERM');
  return exited;
}
