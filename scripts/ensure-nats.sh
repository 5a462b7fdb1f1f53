#!/usr/bin/env bash
# Prints the path of a nats-server (NATS with JetStream) of at least 2.12, building it from source
# when needed, like scripts/temporal-cli.sh builds the Temporal CLI. Order: $NATS_SERVER, the
# cached build, a new build. Never the system's nats-server: Debian's is 2.9, too old for the
# JetStream features the outbox relay and the consumers use (see docs/events.md).
# The build goes to a cache outside the clone and is reused by every later run.
set -euo pipefail
# shellcheck source=lib/go-install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-install.sh"
VERSION="${NATS_SERVER_VERSION:-v2.12.15}"
CACHE_DIR="$SAGA_CACHE_ROOT/nats-server-${VERSION#v}"

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

if ! go_find; then
  cat >&2 <<MSG
No nats-server $VERSION found, and Go is not installed to build one.
Do one of:
  - install Go 1.24 or newer (https://go.dev/dl/ or 'apt-get install golang') and run this again;
  - set NATS_SERVER=/path/to/nats-server (2.12 or newer; Debian's 2.9 is too old);
  - or point the stack at a running broker with NATS_URL (npm run dev only).
MSG
  exit 1
fi

go_build_once "nats-server $VERSION from source" "$CACHE_DIR" nats-server \
  go_install_into "$CACHE_DIR" "github.com/nats-io/nats-server/v2@$VERSION"
if ! version_ok "$CACHE_DIR/nats-server"; then
  echo "The build finished without producing a working $CACHE_DIR/nats-server" >&2
  exit 1
fi
echo "$CACHE_DIR/nats-server"
