// The checks scripts/npm-ci.sh runs before `npm ci`: a complete lock passes, a lock missing a real
// dependency or another platform's optional package fails, as does a Node older than "engines".
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a dependency-free .mjs script (it runs before node_modules exists); no types.
import { lockProblems } from '../../scripts/check-lock.mjs';

const run = promisify(execFile);
type Lock = { lockfileVersion: number; packages: Record<string, Record<string, unknown>> };
const check = lockProblems as (manifest: unknown, lock: Lock) => string[];

async function projectFiles(): Promise<{ manifest: Record<string, unknown>; lock: Lock }> {
  const read = async (file: string) => JSON.parse(await readFile(join(process.cwd(), file), 'utf8'));
  return { manifest: await read('package.json'), lock: await read('package-lock.json') };
}

const manifest = { dependencies: { a: '^1.0.0' }, devDependencies: { b: '^2.0.0' } };
function lock(): Lock {
  return {
    lockfileVersion: 3,
    packages: {
      '': { dependencies: { a: '^1.0.0' }, devDependencies: { b: '^2.0.0' } },
      'node_modules/a': { version: '1.0.0', dependencies: { c: '^3.0.0' }, optionalDependencies: { 'a-win32-x64': '1.0.0' } },
      'node_modules/a/node_modules/c': { version: '3.0.0' },
      'node_modules/a-win32-x64': { version: '1.0.0', optional: true, os: ['win32'], cpu: ['x64'] },
      'node_modules/b': { version: '2.0.0', dependencies: { c: '^1.0.0' } },
      'node_modules/c': { version: '1.0.0' },
    },
  };
}

describe('check-lock', () => {
  it('accepts the project lock', async () => {
    const { manifest: projectManifest, lock: projectLock } = await projectFiles();
    expect(check(projectManifest, projectLock)).toEqual([]);
  });

  it('accepts a complete lock, resolving nested copies the way Node does', () => {
    expect(check(manifest, lock())).toEqual([]);
  });

  it('refuses a lock that misses a real dependency', () => {
    const broken = lock();
    delete broken.packages['node_modules/a/node_modules/c'];
    delete broken.packages['node_modules/c'];
    expect(check(manifest, broken)).toEqual([
      'node_modules/a needs c@^3.0.0; no lock entry resolves it',
      'node_modules/b needs c@^1.0.0; no lock entry resolves it',
    ]);
  });

  it("refuses a lock that misses another platform's optional package", () => {
    const broken = lock();
    delete broken.packages['node_modules/a-win32-x64'];
    expect(check(manifest, broken)).toEqual(['node_modules/a needs a-win32-x64@1.0.0; no lock entry resolves it']);
  });

  it('refuses a lock out of sync with package.json', () => {
    const added = { ...manifest, dependencies: { ...manifest.dependencies, d: '^4.0.0' } };
    const changed = { ...manifest, devDependencies: { b: '^3.0.0' } };
    expect(check(added, lock())).toEqual(['package.json dependencies has d@^4.0.0; the lock does not']);
    expect(check(changed, lock())).toEqual(['package.json devDependencies has b@^3.0.0; the lock has b@^2.0.0']);
    expect(check({ dependencies: manifest.dependencies }, lock())).toEqual([
      "the lock's devDependencies has b; package.json does not",
    ]);
  });

  it('fails the script with the list of problems and exit status 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'check-lock-'));
    const broken = lock();
    delete broken.packages['node_modules/c'];
    await writeFile(join(dir, 'package.json'), JSON.stringify(manifest));
    await writeFile(join(dir, 'package-lock.json'), JSON.stringify(broken));
    const failure = await run('node', ['scripts/check-lock.mjs', dir]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain('node_modules/b needs c@^1.0.0; no lock entry resolves it');
  });
});

describe('check-node-version', () => {
  async function withEngines(range: string): Promise<{ code: number; stderr: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'check-node-'));
    await writeFile(join(dir, 'package.json'), JSON.stringify({ engines: { node: range } }));
    return run('node', ['scripts/check-node-version.mjs', dir]).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );
  }
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];

  it('accepts this Node for the project and for its own or an older minimum', async () => {
    expect((await run('node', ['scripts/check-node-version.mjs'])).stderr).toBe('');
    expect(await withEngines(`>=${process.versions.node}`)).toEqual({ code: 0, stderr: '' });
    expect(await withEngines(`>=${major - 1}.${minor + 5}`)).toEqual({ code: 0, stderr: '' });
  });

  it('refuses this Node when the minimum is newer, naming both versions', async () => {
    const result = await withEngines(`>=${major}.${minor + 1}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`needs Node >=${major}.${minor + 1}; this is Node ${process.versions.node}`);
    expect((await withEngines(`>=${major + 1}`)).code).toBe(1);
  });
});
