#!/usr/bin/env bash
# `npm run test:cluster`: the end-to-end suites against the production shape of Temporal (the
# server built from source on PostgreSQL, 4 history shards, SQL visibility, the standalone UI; see
# harness/temporal-cluster.ts) instead of the dev server. Provides what they need (npm packages,
# MySQL, PostgreSQL, the server, temporal-sql-tool, the UI server and the CLI, built once and
# cached), then runs jest with TEST_TEMPORAL=cluster on the suites below. Extra arguments go to jest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-node-modules.sh
bash scripts/ensure-mysql.sh
bash scripts/ensure-postgres.sh
bash scripts/temporal-cli.sh >/dev/null
bash scripts/temporal-cluster-bin.sh all >/dev/null
# Why these: they are the suites whose behaviour depends on the server (visibility queries over SQL,
# search attributes registered through the operator API, shards, task timeouts when workers die,
# histories as the cluster writes them). The services', auditor's, gateway's and static suites do not
# touch Temporal, the browser test checks the UI's pages (run by `npm test`), and the benchmark
# smoke run is covered by `BENCH_TEMPORAL=cluster npm run bench`.
SUITES=(
  test/api.test.ts
  test/place-order.test.ts
  test/saga-failures.test.ts
  test/worker-crash.test.ts
  # workflow-ID conflict and reuse policies (a business key joined while open, run again once closed)
  test/api-saga-identity.test.ts
  test/cancel-order.test.ts
  test/workers-scale.test.ts
  chaos/chaos.test.ts
  test/replay/replay-live.test.ts
  worker/namespace-check.test.ts
  harness/temporal-cluster.cluster.test.ts
  # three Temporal nodes on one PostgreSQL and three NATS nodes: one of each SIGKILLed under load (and two of
  # three workers), nothing lost
  chaos/temporal-node.cluster.test.ts
)
TEST_TEMPORAL=cluster exec npx jest "${SUITES[@]}" "$@"
