#!/usr/bin/env bash
# `npm test`: install what the suites need (npm packages, the Temporal CLI, nats-server, MySQL running,
# Debian's Chromium), then run the whole jest suite. Extra arguments go to jest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-node-modules.sh
bash scripts/temporal-cli.sh >/dev/null
bash scripts/ensure-nats.sh >/dev/null
bash scripts/ensure-mysql.sh
bash scripts/ensure-chromium.sh
exec npx jest "$@"
