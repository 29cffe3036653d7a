#!/usr/bin/env bash
# `npm ci`, with one fallback: when npm ci refuses package-lock.json as "not in sync" only because
# the lock lacks other platforms' optional packages (@swc/core-darwin-*, @rollup/rollup-win32-*,
# @esbuild/*, ...). That happens when the lock was written against a registry that does not serve
# those packages (this workplace's npm mirror answers 404 for them), and npm ci then cannot tell
# "missing on purpose" from "out of sync". `npm install` installs the same versions from the same
# lock; we then check that it left the lock as it was.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if npm ci --no-audit --no-fund "$@" 2>&1 | tee "$log"; then
  exit 0
fi
if ! grep -q 'can only install packages when your package.json and package-lock.json' "$log"; then
  exit 1
fi
missing="$(grep -o 'Missing: [^ ]* from lock file' "$log" | sed 's/Missing: \(.*\)@ from lock file/\1/')"
if [[ -z "$missing" ]] || grep -q 'Invalid: lock file' "$log" || grep -vqE '^(@swc/core-|@rollup/rollup-|@esbuild/|@img/|@parcel/watcher-|lightningcss-|fsevents$)' <<<"$missing"; then
  echo "npm-ci: package-lock.json is out of sync with package.json; run \`npm install\` and commit the lock" >&2
  exit 1
fi
echo "npm-ci: npm ci refused the lock only for $(wc -l <<<"$missing") optional platform packages this registry does not serve; installing from the lock with npm install"
before="$(sha256sum package-lock.json)"
npm install --no-audit --no-fund "$@"
if [[ "$(sha256sum package-lock.json)" != "$before" ]]; then
  echo "npm-ci: warning: npm install changed package-lock.json (review and commit it)" >&2
fi
