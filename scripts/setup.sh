#!/usr/bin/env bash
# Everything `npm run dev` and `npm test` need, installed only when missing (fast no-op otherwise):
#   1. npm packages: `npm ci` (scripts/npm-ci.sh) when node_modules is missing or older than
#      package-lock.json;
#   2. the Temporal CLI, the Temporal test server and FerretDB: scripts/install-tools.sh;
#   3. with --browser (`npm test`, `npm run setup`; not `npm run dev`): Chromium for the browser
#      tests, Debian's package (install-tools.sh --chromium).
# Usage: scripts/setup.sh [--quiet] [--browser]   (--quiet: say nothing when nothing is to be done)
set -euo pipefail

QUIET=false
tool_args=()
for arg in "$@"; do
  case "$arg" in
    --quiet | -q) QUIET=true; tool_args+=(--quiet) ;;
    --browser) tool_args+=(--chromium) ;;
    *) echo "setup: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# npm writes node_modules/.package-lock.json on every install; older than package-lock.json means
# the lock file changed since (a pull, a branch switch).
installed_lock=node_modules/.package-lock.json
if [[ ! -f "$installed_lock" ]] || [[ package-lock.json -nt "$installed_lock" ]]; then
  echo "setup: installing npm packages (npm ci) ..."
  bash scripts/npm-ci.sh
elif ! $QUIET; then
  echo "setup: npm packages up to date"
fi

bash scripts/install-tools.sh ${tool_args[@]+"${tool_args[@]}"}
