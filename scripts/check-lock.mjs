#!/usr/bin/env node
// Is package-lock.json complete? Checked offline, before `npm ci`, with no dependencies (there is
// no node_modules yet), so a bad lock fails with a message naming what is missing instead of an npm
// error whose wording depends on what the registry mirror serves that day.
//
// Complete means:
//   - the lock's root entry declares exactly the dependencies package.json declares (same specs);
//   - every dependency and optional dependency of every locked package (and of the root) resolves,
//     by Node's lookup (nearest node_modules upwards), to an entry in the lock. Optional ones
//     included: other platforms' native packages (@esbuild/*, @rollup/*, @swc/core-*, fsevents)
//     must be locked too, or `npm ci` on a registry that serves their metadata refuses the lock.
//
// Usage: node scripts/check-lock.mjs [dir]     (exit 0: complete; exit 1: a list of problems)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'];

/** Problems with `lock` as the lock of `manifest` (package.json); empty when complete. */
export function lockProblems(manifest, lock) {
  const problems = [];
  if (lock.lockfileVersion < 2 || typeof lock.packages !== 'object' || lock.packages === null) {
    return [`lockfileVersion ${lock.lockfileVersion} has no "packages" map (npm 7+ writes version 3)`];
  }
  const packages = lock.packages;
  const root = packages[''] ?? {};

  for (const field of DEPENDENCY_FIELDS) {
    const wanted = manifest[field] ?? {};
    const locked = root[field] ?? {};
    for (const [name, spec] of Object.entries(wanted)) {
      if (!(name in locked)) problems.push(`package.json ${field} has ${name}@${spec}; the lock does not`);
      else if (locked[name] !== spec) {
        problems.push(`package.json ${field} has ${name}@${spec}; the lock has ${name}@${locked[name]}`);
      }
    }
    for (const name of Object.keys(locked)) {
      if (!(name in wanted)) problems.push(`the lock's ${field} has ${name}; package.json does not`);
    }
  }

  for (const [path, entry] of Object.entries(packages)) {
    if (entry.link) continue;
    const required = { ...entry.dependencies, ...entry.optionalDependencies };
    if (path === '') Object.assign(required, entry.devDependencies);
    for (const name of Object.keys(required)) {
      if (resolve(packages, path, name) === undefined) {
        problems.push(`${path || 'package.json'} needs ${name}@${required[name]}; no lock entry resolves it`);
      }
    }
  }
  return problems;
}

/** The lock path `name` resolves to from the package at `from`, as Node looks it up. */
function resolve(packages, from, name) {
  let dir = from;
  for (;;) {
    const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (candidate in packages) return candidate;
    if (!dir) return undefined;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut === -1 ? '' : dir.slice(0, cut);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = process.argv[2] ?? process.cwd();
  const read = (file) => JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const problems = lockProblems(read('package.json'), read('package-lock.json'));
  if (problems.length > 0) {
    console.error(`check-lock: package-lock.json is incomplete or out of sync with package.json (${problems.length}):`);
    for (const problem of problems.slice(0, 40)) console.error(`  - ${problem}`);
    if (problems.length > 40) console.error(`  ... and ${problems.length - 40} more`);
    console.error('check-lock: run `npm install` on a machine whose registry serves every platform package, and commit the lock');
    process.exit(1);
  }
  console.log(`check-lock: package-lock.json is complete (${Object.keys(read('package-lock.json').packages).length - 1} packages)`);
}
