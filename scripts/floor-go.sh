#!/usr/bin/env bash
# Prints the path of the benchmark's Go SDK floor worker (bench/floor-go, mode floor-go of
# bench/run.ts), building it with `go build` when needed into a cache outside the clone, keyed by
# a hash of its sources (main.go, go.mod, go.sum), so a changed program is built again. The Go
# module proxy provides go.temporal.io/sdk; nothing downloads a prebuilt binary.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/go-install.sh
source "$ROOT/scripts/lib/go-install.sh"
SRC="$ROOT/bench/floor-go"
HASH="$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC"/*.go | sha256sum | cut -c1-16)"
CACHE_DIR="$SAGA_CACHE_ROOT/bench-floor-go-$HASH"
BIN="$CACHE_DIR/floor-go"

if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
if ! go_find; then
  echo "The floor-go benchmark mode needs Go to build bench/floor-go (https://go.dev/dl/)." >&2
  exit 1
fi

# go build, not go install: the program is this repository's own module. Written beside and moved,
# so a build that stops half way leaves no binary that looks finished.
build_floor() { cd "$SRC" && go build -trimpath -o "$BIN.tmp" . && mv "$BIN.tmp" "$BIN"; }
go_build_once bench/floor-go "$CACHE_DIR" floor-go build_floor
echo "$BIN"
