#!/usr/bin/env bash
# Prints the path of a `temporal` CLI (which embeds the dev server and the Web UI), building it
# from source when needed. Order: $TEMPORAL_CLI, `temporal` on PATH, the cached build, a new build.
# The build goes to a cache outside the clone and is reused by every later run.
set -euo pipefail
# shellcheck source=lib/go-install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-install.sh"
VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
CACHE_DIR="$SAGA_CACHE_ROOT/temporal-${VERSION#v}"

if [ -n "${TEMPORAL_CLI:-}" ]; then
  if [ -x "$TEMPORAL_CLI" ]; then echo "$TEMPORAL_CLI"; exit 0; fi
  echo "TEMPORAL_CLI=$TEMPORAL_CLI is not an executable file" >&2; exit 1
fi
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi
if [ -x "$CACHE_DIR/temporal" ]; then echo "$CACHE_DIR/temporal"; exit 0; fi

if ! go_find; then
  cat >&2 <<MSG
No Temporal CLI found, and Go is not installed to build one.
Do one of:
  - install Go 1.23 or newer (https://go.dev/dl/ or 'apt-get install golang') and run this again;
  - install the Temporal CLI (https://docs.temporal.io/cli) so that 'temporal' is on PATH;
  - set TEMPORAL_CLI=/path/to/temporal.
MSG
  exit 1
fi

go_build_once "the Temporal CLI $VERSION from source" "$CACHE_DIR" temporal \
  go_install_into "$CACHE_DIR" "github.com/temporalio/cli/cmd/temporal@$VERSION"
echo "$CACHE_DIR/temporal"
