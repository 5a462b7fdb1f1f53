#!/usr/bin/env bash
# Prints the path of a nats-server (NATS with JetStream) of at least 2.12, building it from source
# when needed, like scripts/temporal-cli.sh builds the Temporal CLI. Order: $NATS_SERVER, the
# cached build, a new build. Never the system's nats-server: Debian's is 2.9, too old for the
# JetStream features the outbox relay and the consumers use (see README, "Events and local copies").
# The build goes to a cache outside the clone and is reused by every later run.
set -euo pipefail
VERSION="${NATS_SERVER_VERSION:-v2.12.15}"
CACHE_ROOT="${SAGA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/saga-orchestrator}"
CACHE_DIR="$CACHE_ROOT/nats-server-${VERSION#v}"

# A binary is only used when it says it is the version asked for (or, for $NATS_SERVER, 2.12 or newer).
version_ok() {
  local out
  out="$("$1" --version 2>/dev/null || true)" # "nats-server: v2.12.15"
  [[ "$out" =~ v2\.([0-9]+)\. ]] && [ "${BASH_REMATCH[1]}" -ge 12 ]
}

if [ -n "${NATS_SERVER:-}" ]; then
  if [ -x "$NATS_SERVER" ] && version_ok "$NATS_SERVER"; then echo "$NATS_SERVER"; exit 0; fi
  echo "NATS_SERVER=$NATS_SERVER is not an executable nats-server 2.12 or newer ($("$NATS_SERVER" --version 2>&1 || true))" >&2; exit 1
fi
if [ -x "$CACHE_DIR/nats-server" ] && version_ok "$CACHE_DIR/nats-server"; then echo "$CACHE_DIR/nats-server"; exit 0; fi

if ! command -v go >/dev/null 2>&1; then
  for candidate in /usr/local/go/bin/go /usr/lib/go/bin/go; do
    if [ -x "$candidate" ]; then PATH="$(dirname "$candidate"):$PATH"; break; fi
  done
fi
if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<MSG
No nats-server $VERSION found, and Go is not installed to build one.
Do one of:
  - install Go 1.24 or newer (https://go.dev/dl/ or 'apt-get install golang') and run this again;
  - set NATS_SERVER=/path/to/nats-server (2.12 or newer; Debian's 2.9 is too old);
  - or point the stack at a running broker with NATS_URL (npm run dev only).
MSG
  exit 1
fi

mkdir -p "$CACHE_DIR"
LOCK="$CACHE_DIR/.build.lock"
(
  # Two processes (dev and test, or two jest workers) may ask at once: build once.
  flock 9
  if [ ! -x "$CACHE_DIR/nats-server" ]; then
    echo "Building nats-server $VERSION from source into $CACHE_DIR (first time only; about a minute)..." >&2
    GOBIN="$CACHE_DIR" GOFLAGS=-mod=mod go install "github.com/nats-io/nats-server/v2@$VERSION" >&2
  fi
) 9>"$LOCK"
if [ ! -x "$CACHE_DIR/nats-server" ] || ! version_ok "$CACHE_DIR/nats-server"; then
  echo "The build finished without producing a working $CACHE_DIR/nats-server" >&2
  exit 1
fi
echo "$CACHE_DIR/nats-server"
