#!/usr/bin/env bash
# Generates a new drizzle migration for each service whose schema.ts changed. Usage:
#   npm run db:generate -- <name>
# Commit the generated SQL; never edit a migration after it has landed.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME="${1:?give the migration a name, e.g. npm run db:generate -- add_refund_reason}"
for svc in orders inventory payments shipping order-history; do
  npx drizzle-kit generate --config "services/$svc/drizzle.config.ts" --name "$NAME"
done
