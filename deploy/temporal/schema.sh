#!/bin/sh
# Creates the Temporal databases on PostgreSQL if missing and brings their schemas to the version
# this server release ships. Idempotent: an existing database is kept, setup-schema -v 0.0 skips a
# database already past version 0, update-schema applies only the newer versions. Run by the
# cluster mode before the server starts (harness/temporal-cluster.ts), by `npm run temporal:schema`
# (upgrading after a server upgrade) and by docker-compose.yml's temporal-schema job.
#
# Environment: TEMPORAL_SQL_HOST, TEMPORAL_SQL_PORT, TEMPORAL_SQL_USER, TEMPORAL_SQL_PASSWORD,
# TEMPORAL_SQL_DATABASE, TEMPORAL_SQL_VISIBILITY_DATABASE (as deploy/temporal/config/cluster.yaml),
# TEMPORAL_SQL_TOOL (the temporal-sql-tool binary) and TEMPORAL_SCHEMA_DIR (the release's
# schema/postgresql/v12 folder, which holds temporal/versioned and visibility/versioned).
set -eu
TOOL="${TEMPORAL_SQL_TOOL:-temporal-sql-tool}"
DIR="${TEMPORAL_SCHEMA_DIR:?set TEMPORAL_SCHEMA_DIR to the server release's schema/postgresql/v12 folder}"
# temporal-sql-tool reads its connection from these (the password stays off the command line).
export SQL_PLUGIN=postgres12
export SQL_HOST="${TEMPORAL_SQL_HOST:-127.0.0.1}"
export SQL_PORT="${TEMPORAL_SQL_PORT:-5432}"
export SQL_USER="${TEMPORAL_SQL_USER:-postgres}"
export SQL_PASSWORD="${TEMPORAL_SQL_PASSWORD:-}"

# Quiet when it works; the tool's whole output when it does not.
run() {
  if ! out=$("$TOOL" "$@" 2>&1); then
    echo "$out" >&2
    echo "failed: temporal-sql-tool $* (PostgreSQL $SQL_USER@$SQL_HOST:$SQL_PORT)" >&2
    exit 1
  fi
}
setup() {
  db="$1"; versioned="$2"
  [ -d "$versioned" ] || { echo "no schema folder $versioned (TEMPORAL_SCHEMA_DIR)" >&2; exit 1; }
  if ! out=$("$TOOL" --db "$db" create-database 2>&1); then
    case "$out" in
      *'already exists'*) ;;
      *) echo "$out" >&2; echo "could not create database $db on PostgreSQL $SQL_USER@$SQL_HOST:$SQL_PORT" >&2; exit 1 ;;
    esac
  fi
  run --db "$db" setup-schema -v 0.0
  run --db "$db" update-schema -d "$versioned"
}
setup "${TEMPORAL_SQL_DATABASE:-temporal}" "$DIR/temporal/versioned"
setup "${TEMPORAL_SQL_VISIBILITY_DATABASE:-temporal_visibility}" "$DIR/visibility/versioned"
echo "Temporal schemas of ${TEMPORAL_SQL_DATABASE:-temporal} and ${TEMPORAL_SQL_VISIBILITY_DATABASE:-temporal_visibility} are up to date"
