#!/usr/bin/env bash
# Install npm packages exactly as package-lock.json says, on any registry mirror.
#   1. Node itself must satisfy package.json "engines" (a clear message instead of odd failures
#      later on an old Node).
#   2. The lock must be complete (scripts/check-lock.mjs: offline, no dependencies): every
#      platform's optional packages locked, so `npm ci` passes whether or not the mirror serves
#      other platforms' packages that day; a lock out of sync with package.json fails here, loudly.
#   3. Plain `npm ci`; no fallback. .npmrc sets engine-strict, so a locked package that does not
#      support our Node fails the install instead of warning.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

node scripts/check-node-version.mjs
node scripts/check-lock.mjs
npm ci --no-audit --no-fund "$@"
