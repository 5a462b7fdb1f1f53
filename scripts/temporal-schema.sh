#!/usr/bin/env bash
# `npm run temporal:schema`: creates the cluster mode's Temporal databases on PostgreSQL if missing
# and sets up or updates their schemas to the server release's (deploy/temporal/schema.sh), with
# temporal-sql-tool built from source and the schema files of the server's Go module. Run it after
# upgrading TEMPORAL_SERVER_VERSION, before starting the new server. Idempotent.
# Environment: TEMPORAL_SQL_HOST/PORT/USER/PASSWORD/DATABASE/VISIBILITY_DATABASE (see docs/configuration.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-postgres.sh
TEMPORAL_SQL_TOOL="$(bash scripts/temporal-cluster-bin.sh sql-tool)"
# The server module's own schema files, from the Go module cache.
TEMPORAL_SCHEMA_DIR="$(bash scripts/temporal-cluster-bin.sh schema-dir)"
export TEMPORAL_SQL_TOOL TEMPORAL_SCHEMA_DIR
exec sh deploy/temporal/schema.sh
