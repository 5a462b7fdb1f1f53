#!/usr/bin/env bash
# `npm run dev`: install what the project needs (npm packages, the Temporal CLI), then run the stack.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-node-modules.sh
[ -n "${NATS_URL:-}" ] || bash scripts/ensure-nats.sh >/dev/null
exec node --import tsx scripts/dev.ts "$@"
