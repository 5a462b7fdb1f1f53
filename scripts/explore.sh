#!/usr/bin/env bash
# `npm run test:explore -- [--runs N] [--seed S] [--path P]`: explores the saga runtime's state space
# further than `npm test` does (test/saga-runtime-properties.test.ts), or replays one failure from
# the seed and path fast-check printed. Same set-up as `npm test` (scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=200
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --seed) export EXPLORE_SEED="$2"; shift 2 ;;
    --path) export EXPLORE_PATH="$2"; shift 2 ;;
    *) echo "usage: npm run test:explore -- [--runs N] [--seed S] [--path P] (unknown: $1)" >&2; exit 2 ;;
  esac
done
case "$runs" in ''|*[!0-9]*) echo "--runs takes a number, not '$runs'" >&2; exit 2 ;; esac
export EXPLORE_RUNS="$runs"
# a new seed each exploration unless --seed names one (npm test keeps one seed: repeatable CI)
[ -n "${EXPLORE_SEED:-}" ] || export EXPLORE_RANDOM_SEED=1
exec bash scripts/test.sh test/saga-runtime-properties.test.ts -t 'generated schedules'
