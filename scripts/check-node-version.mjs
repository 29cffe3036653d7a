#!/usr/bin/env node
// Refuse a Node older than package.json "engines.node" (a ">=X.Y" range), with one clear line.
// Dependency-free: it runs before `npm ci`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// Usage: node scripts/check-node-version.mjs [dir holding package.json; default: the project]
const dir = process.argv[2] ?? new URL('..', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const range = manifest.engines?.node ?? '';
const minimum = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range);
if (!minimum) {
  console.error(`check-node-version: package.json engines.node must be ">=X.Y.Z", not ${JSON.stringify(range)}`);
  process.exit(1);
}
const want = minimum.slice(1).map((part) => Number(part ?? 0));
const have = process.versions.node.split('.').map(Number);
// First differing part decides; equal versions are fine.
const differs = want.findIndex((part, i) => have[i] !== part);
const older = differs !== -1 && have[differs] < want[differs];
if (older) {
  console.error(`check-node-version: this project needs Node ${range}; this is Node ${process.versions.node} (${process.execPath})`);
  process.exit(1);
}
