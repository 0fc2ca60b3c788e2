#!/usr/bin/env bash
# A PostgreSQL cluster for trying Alleycat's scale-out on one machine (see README.md):
#   scripts/postgres.sh start [dir]   creates the cluster on first use, starts it, makes the
#                                     database `alleycat`, prints its URL
#   scripts/postgres.sh stop [dir]    stops it (fast shutdown)
# The cluster lives in [dir] (default .tools/postgres, gitignored) and listens on 127.0.0.1 only,
# port $ALLEYCAT_PG_PORT (default 5433, so it does not meet a system cluster on 5432), with
# trust authentication for the user `postgres`: for a try-out on loopback, not for production.
# Uses Debian's server binaries (scripts/setup.sh installs them). The tests do not use it: they
# start a throwaway server of their own (testkit/src/postgres.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${ALLEYCAT_POSTGRES_BIN:-/usr/lib/postgresql/15/bin}
PORT=${ALLEYCAT_PG_PORT:-5433}
command=${1:-}
dir=${2:-.tools/postgres}

usage() { echo "usage: $0 start|stop [dir]" >&2; exit 2; }
[ -n "$command" ] || usage
[ -x "$BIN/postgres" ] || { echo "no PostgreSQL binaries in $BIN: run scripts/setup.sh" >&2; exit 1; }

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# initdb and postgres refuse to run as root: then they run as Debian's `postgres` user.
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

case "$command" in
  start)
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_pg "$BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if as_pg "$BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      echo "already running"
    else
      as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w \
        -o "-p $PORT -h 127.0.0.1 -k $dir" start >/dev/null
    fi
    url="postgres://postgres@127.0.0.1:$PORT/alleycat"
    exists=$("$BIN/psql" -X -tA -d "postgres://postgres@127.0.0.1:$PORT/postgres" \
      -c "SELECT 1 FROM pg_database WHERE datname = 'alleycat'")
    if [ "$exists" != 1 ]; then
      "$BIN/psql" -X -q -d "postgres://postgres@127.0.0.1:$PORT/postgres" -c "CREATE DATABASE alleycat"
    fi
    echo "PostgreSQL is running (log: $dir/postgres.log). Use:"
    echo "  --database-url $url"
    ;;
  stop)
    if [ -f "$dir/data/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_pg "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
      echo "stopped"
    else
      echo "not running"
    fi
    ;;
  *) usage ;;
esac
