#!/usr/bin/env bash
# Prints the path of the benchmark's Go SDK floor worker (bench/floor-go, mode floor-go of
# bench/run.ts), building it with `go build` when needed into a cache outside the clone, keyed by
# a hash of its sources (main.go, go.mod, go.sum), so a changed program is built again. The Go
# module proxy provides go.temporal.io/sdk; nothing downloads a prebuilt binary.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/bench/floor-go"
CACHE_ROOT="${SAGA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/saga-orchestrator}"
HASH="$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC"/*.go | sha256sum | cut -c1-16)"
CACHE_DIR="$CACHE_ROOT/bench-floor-go-$HASH"
BIN="$CACHE_DIR/floor-go"

if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
if ! command -v go >/dev/null 2>&1; then
  for candidate in /usr/local/go/bin/go /usr/lib/go/bin/go; do
    if [ -x "$candidate" ]; then PATH="$(dirname "$candidate"):$PATH"; break; fi
  done
fi
if ! command -v go >/dev/null 2>&1; then
  echo "The floor-go benchmark mode needs Go to build bench/floor-go (https://go.dev/dl/)." >&2
  exit 1
fi

mkdir -p "$CACHE_DIR"
echo "Building bench/floor-go into $CACHE_DIR (first time only)..." >&2
(
  # Two benchmark runs may ask at once: build once.
  flock 9
  if [ ! -x "$BIN" ]; then
    (cd "$SRC" && go build -trimpath -o "$BIN.tmp" . && mv "$BIN.tmp" "$BIN") >&2
  fi
) 9>"$CACHE_DIR/.build.lock"
if [ ! -x "$BIN" ]; then
  echo "The build finished without producing $BIN" >&2
  exit 1
fi
echo "$BIN"
