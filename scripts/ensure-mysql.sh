#!/usr/bin/env bash
# Makes sure a MySQL-compatible server answers at MYSQL_URL (default mysql://root@127.0.0.1:3306).
# If it does not and a local MariaDB/MySQL server is installed, starts it; otherwise says what to do.
set -euo pipefail
URL="${MYSQL_URL:-mysql://root@127.0.0.1:3306}"
HOSTPORT="${URL#*://}"; HOSTPORT="${HOSTPORT#*@}"; HOSTPORT="${HOSTPORT%%/*}"
HOST="${HOSTPORT%%:*}"; PORT="${HOSTPORT##*:}"; [ "$PORT" = "$HOSTPORT" ] && PORT=3306

answers() { (exec 3<>"/dev/tcp/$HOST/$PORT") >/dev/null 2>&1; }

if answers; then exit 0; fi
case "$HOST" in 127.0.0.1|localhost) ;; *)
  echo "MySQL does not answer at $HOST:$PORT (MYSQL_URL=$URL). Start it, or point MYSQL_URL at one that runs." >&2
  exit 1 ;;
esac
DAEMON=""
for candidate in /usr/sbin/mariadbd /usr/sbin/mysqld; do
  if [ -x "$candidate" ]; then DAEMON="$candidate"; break; fi
done
if [ -z "$DAEMON" ]; then
  echo "MySQL does not answer at $HOST:$PORT and no local server is installed." >&2
  echo "Install one ('apt-get install mariadb-server') or set MYSQL_URL to a running MySQL 8 / MariaDB 10.6+." >&2
  exit 1
fi
echo "Starting local $DAEMON ..." >&2
mkdir -p /run/mysqld 2>/dev/null && chown mysql:mysql /run/mysqld 2>/dev/null || true
if command -v start-stop-daemon >/dev/null 2>&1; then
  start-stop-daemon --start --oknodo --background --exec "$DAEMON"
else
  nohup "$DAEMON" >/dev/null 2>&1 &
fi
for _ in $(seq 1 60); do
  if answers; then echo "MySQL is up at $HOST:$PORT" >&2; exit 0; fi
  sleep 1
done
echo "Started $DAEMON but nothing answers at $HOST:$PORT after 60s" >&2
exit 1
