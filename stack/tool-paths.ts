import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Where the dev stack and the tests find the binaries scripts/install-tools.sh installs.

/** The repository root (this file is `<root>/stack/tool-paths.ts`). */
export const repoRoot = fileURLToPath(new URL('..', import.meta.url)).replace(/[\\/]+$/, '');

export type ToolName = 'temporal' | 'temporal-test-server' | 'ferretdb';

export const tools: Record<ToolName, { envVar: string; installed: string; what: string }> = {
  temporal: { envVar: 'TEMPORAL_CLI_PATH', installed: join(repoRoot, '.tools', 'py', 'bin', 'temporal'), what: 'Temporal CLI' },
  'temporal-test-server': {
    envVar: 'TEMPORAL_TEST_SERVER_PATH',
    installed: join(repoRoot, '.tools', 'py', 'bin', 'temporal-test-server'),
    what: 'Temporal time-skipping test server',
  },
  ferretdb: { envVar: 'FERRETDB_PATH', installed: join(repoRoot, '.tools', 'bin', 'ferretdb'), what: 'FerretDB' },
};

const isExecutableFile = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/**
 * The path of a tool: its variable (TEMPORAL_CLI_PATH, TEMPORAL_TEST_SERVER_PATH, FERRETDB_PATH),
 * else the pinned copy in `.tools/`, else the first one on PATH. Throws, saying what to run, when
 * there is none.
 */
export function resolveToolPath(name: ToolName, env: NodeJS.ProcessEnv = process.env): string {
  const tool = tools[name];
  const fromEnv = env[tool.envVar];
  if (fromEnv) {
    if (!isExecutableFile(fromEnv)) throw new Error(`${tool.envVar}=${fromEnv} is not an executable file (${tool.what})`);
    return fromEnv;
  }
  if (isExecutableFile(tool.installed)) return tool.installed;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new Error(
    `${tool.what} (${name}) not found: run \`npm run setup\` to install it into .tools/, ` +
      `or set ${tool.envVar} to an existing binary`,
  );
}
