#!/usr/bin/env bash
# Makes sure PostgreSQL answers at TEMPORAL_SQL_HOST:TEMPORAL_SQL_PORT (default 127.0.0.1:5432), for
# the Temporal cluster mode. If it does not and a local PostgreSQL cluster is installed, starts it;
# otherwise says what to do.
set -euo pipefail
HOST="${TEMPORAL_SQL_HOST:-127.0.0.1}"
PORT="${TEMPORAL_SQL_PORT:-5432}"

answers() { (exec 3<>"/dev/tcp/$HOST/$PORT") >/dev/null 2>&1; }

if answers; then exit 0; fi
case "$HOST" in 127.0.0.1|localhost) ;; *)
  echo "PostgreSQL does not answer at $HOST:$PORT (TEMPORAL_SQL_HOST/TEMPORAL_SQL_PORT). Start it, or point TEMPORAL_SQL_HOST at one that runs." >&2
  exit 1 ;;
esac
# The installed local cluster that should listen on $PORT (pg_lsclusters: version cluster port status ...).
CLUSTER=""
if command -v pg_lsclusters >/dev/null 2>&1; then
  CLUSTER="$(pg_lsclusters -h 2>/dev/null | awk -v port="$PORT" '$3 == port { print $1 " " $2; exit }')"
fi
if [ -z "$CLUSTER" ]; then
  echo "PostgreSQL does not answer at $HOST:$PORT and no local cluster is installed on that port." >&2
  echo "Install one ('apt-get install postgresql', with trust auth for 127.0.0.1 or TEMPORAL_SQL_USER/TEMPORAL_SQL_PASSWORD set)" >&2
  echo "or set TEMPORAL_SQL_HOST / TEMPORAL_SQL_PORT to a running PostgreSQL 12+." >&2
  exit 1
fi
echo "Starting local PostgreSQL $CLUSTER (pg_ctlcluster --skip-systemctl-redirect $CLUSTER start) ..." >&2
# shellcheck disable=SC2086 # "<version> <name>"
pg_ctlcluster --skip-systemctl-redirect $CLUSTER start >&2
for _ in $(seq 1 60); do
  if answers; then echo "PostgreSQL is up at $HOST:$PORT" >&2; exit 0; fi
  sleep 1
done
echo "Started PostgreSQL $CLUSTER but nothing answers at $HOST:$PORT after 60s (see /var/log/postgresql/)" >&2
exit 1
