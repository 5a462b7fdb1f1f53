#!/usr/bin/env bash
# Prints the path of a `temporal` CLI (which embeds the dev server and the Web UI), building it
# from source when needed. Order: $TEMPORAL_CLI, `temporal` on PATH, the cached build, a new build.
# The build goes to a cache outside the clone and is reused by every later run.
set -euo pipefail
VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
CACHE_ROOT="${SAGA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/saga-orchestrator}"
CACHE_DIR="$CACHE_ROOT/temporal-${VERSION#v}"

if [ -n "${TEMPORAL_CLI:-}" ]; then
  if [ -x "$TEMPORAL_CLI" ]; then echo "$TEMPORAL_CLI"; exit 0; fi
  echo "TEMPORAL_CLI=$TEMPORAL_CLI is not an executable file" >&2; exit 1
fi
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi
if [ -x "$CACHE_DIR/temporal" ]; then echo "$CACHE_DIR/temporal"; exit 0; fi

if ! command -v go >/dev/null 2>&1; then
  for candidate in /usr/local/go/bin/go /usr/lib/go/bin/go; do
    if [ -x "$candidate" ]; then PATH="$(dirname "$candidate"):$PATH"; break; fi
  done
fi
if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<MSG
No Temporal CLI found, and Go is not installed to build one.
Do one of:
  - install Go 1.23 or newer (https://go.dev/dl/ or 'apt-get install golang') and run this again;
  - install the Temporal CLI (https://docs.temporal.io/cli) so that 'temporal' is on PATH;
  - set TEMPORAL_CLI=/path/to/temporal.
MSG
  exit 1
fi

mkdir -p "$CACHE_DIR"
echo "Building the Temporal CLI $VERSION from source into $CACHE_DIR (first time only; takes a few minutes)..." >&2
LOCK="$CACHE_DIR/.build.lock"
(
  # Two processes (dev and test) may ask at once: build once.
  flock 9
  if [ ! -x "$CACHE_DIR/temporal" ]; then
    GOBIN="$CACHE_DIR" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$VERSION" >&2
  fi
) 9>"$LOCK"
if [ ! -x "$CACHE_DIR/temporal" ]; then
  echo "The build finished without producing $CACHE_DIR/temporal" >&2
  exit 1
fi
echo "$CACHE_DIR/temporal"
