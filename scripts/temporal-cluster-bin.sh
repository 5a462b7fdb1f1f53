#!/usr/bin/env bash
# Prints the path of one of the binaries that the cluster mode runs, building it from source when
# needed: `server` (the Temporal server), `sql-tool` (temporal-sql-tool) or `ui-server` (the
# standalone Web UI). `all` builds the three and prints their paths, one a line. `schema-dir` prints
# the server module's schema/postgresql/v12 folder in the Go module cache (the build put it there;
# the schema files are used from there, never copied into this repository).
# Like scripts/temporal-cli.sh, builds go to a cache outside the clone (scripts/lib/go-install.sh)
# and are reused by every later run; the Temporal server and the UI server binaries are both named
# `server`, so each has its own folder.
set -euo pipefail
# shellcheck source=lib/go-install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-install.sh"
SERVER_VERSION="${TEMPORAL_SERVER_VERSION:-v1.29.1}"
UI_VERSION="${TEMPORAL_UI_VERSION:-v2.42.1}"
# found or not: a cached build needs no Go, and schema-dir below asks Go for its module cache
go_find || true

# build <cache folder> <binary name> <package@version>
build() {
  local dir="$1" bin="$2" pkg="$3"
  if [ -x "$dir/$bin" ]; then echo "$dir/$bin"; return 0; fi
  if ! go_find; then
    cat >&2 <<MSG
The cluster mode needs $pkg, and Go is not installed to build it.
Install Go 1.24 or newer (https://go.dev/dl/ or 'apt-get install golang') and run this again.
MSG
    return 1
  fi
  go_build_once "$pkg" "$dir" "$bin" go_install_into "$dir" "$pkg"
  echo "$dir/$bin"
}

server() { build "$SAGA_CACHE_ROOT/temporal-server-${SERVER_VERSION#v}" server "go.temporal.io/server/cmd/server@$SERVER_VERSION"; }
sql_tool() { build "$SAGA_CACHE_ROOT/temporal-sql-tool-${SERVER_VERSION#v}" sql "go.temporal.io/server/cmd/tools/sql@$SERVER_VERSION"; }
ui_server() { build "$SAGA_CACHE_ROOT/temporal-ui-server-${UI_VERSION#v}" server "github.com/temporalio/ui-server/v2/cmd/server@$UI_VERSION"; }

case "${1:-}" in
  server) server ;;
  sql-tool) sql_tool ;;
  ui-server) ui_server ;;
  all) ui_server; sql_tool; server ;;
  schema-dir)
    sql_tool >/dev/null
    dir="$(go env GOMODCACHE)/go.temporal.io/server@$SERVER_VERSION/schema/postgresql/v12"
    if [ ! -d "$dir/temporal/versioned" ]; then
      # a cached build from another machine's module cache: fetch the module (source only)
      (cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download "go.temporal.io/server@$SERVER_VERSION" >&2)
    fi
    [ -d "$dir/temporal/versioned" ] || { echo "no schema folder at $dir" >&2; exit 1; }
    echo "$dir" ;;
  *) echo "usage: $0 server|sql-tool|ui-server|all|schema-dir" >&2; exit 2 ;;
esac
