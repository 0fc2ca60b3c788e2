#!/usr/bin/env bash
# Scale-out benchmark (BENCHMARKS.md, Scale-out): events/s acknowledged and acknowledgement
# latency p99 of `alleycat-sim --fast` (500-event batches over keep-alive connections, the
# generator's API key) against
#   1. one server on the embedded defaults (disk stream, SQLite, local objects);
#   2. one server over a three-node NATS JetStream cluster (R3), PostgreSQL and moto (S3);
#   3. two servers over the same engines, the generator spreading its batches over both.
# Every part runs on this machine: NATS, PostgreSQL and moto share its cores with the servers
# and the generator.
#
#   scripts/bench-scale-out.sh [RACERS] [CONNECTIONS]     (defaults: 1000 racers, 8 connections)
#
# Each run backfills one race of RACERS racers x 300 s (300,000 events for 1,000 racers) at
# full speed. Prints the generator's JSON summary line per run, with the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
RACERS=${1:-1000}
CONNECTIONS=${2:-8}
API_KEY=bench-scale-out
VENV=.tools/venv

cargo build --release --locked -p alleycat-server -p alleycat-sim
work=$(mktemp -d)
chmod 755 "$work" # PostgreSQL runs as its own user when we are root
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/nats-cluster.sh stop "$work/nats" >/dev/null 2>&1 || true
  scripts/postgres.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts `alleycat serve` with the settings in "$@" (KEY=VALUE) and prints its base URL.
serve() {
  local name=$1; shift
  local log=$work/$name.log
  env ALLEYCAT_PORT=0 ALLEYCAT_DATA_DIR="$work/$name" ALLEYCAT_DIST="$work/no-dist" \
    ALLEYCAT_API_KEY=$API_KEY ALLEYCAT_LOG=info NO_COLOR=1 "$@" \
    target/release/alleycat serve >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 600); do
    address=$(sed -n 's/.*address=\([0-9.:]*\).*/\1/p' "$log" | head -1)
    [ -n "$address" ] && { echo "http://$address"; return; }
    sleep 0.1 # waiting for the server's address line, with a deadline
  done
  cat "$log" >&2
  echo "$name did not start" >&2
  exit 1
}

# Each run rides its own racers, so no run meets another's events as duplicates.
ride() {
  local label=$1 servers=$2 first=$3
  echo "== $label: $RACERS racers, $CONNECTIONS connections, load $(cut -d' ' -f1-3 /proc/loadavg)"
  flock /tmp/alleycat-bench.lock target/release/alleycat-sim --server "$servers" --api-key $API_KEY \
    --racers "$RACERS" --first-racer "$first" --backfill 1 --races 0 --connections "$CONNECTIONS" --json 2>/dev/null \
    | python3 -c 'import json,sys; s=json.load(sys.stdin); print(json.dumps({k: s[k] for k in ("acknowledged","failed","eventsPerSecond","ackLatencyMs","retriedRequests")}))'
}

embedded=$(serve embedded)
ride "one server, embedded defaults" "$embedded" 1

scripts/nats-cluster.sh start "$work/nats" >/dev/null
pg_url=$(ALLEYCAT_PG_PORT=$(free_port) scripts/postgres.sh start "$work/pg" | sed -n "s/.*--database-url //p")
moto_port=$(free_port)
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
  curl -sf -X PUT "http://127.0.0.1:$moto_port/alleycat" >/dev/null && break
  sleep 0.1 # waiting for moto to listen, with a deadline
done
shared=(ALLEYCAT_STREAM=nats://127.0.0.1:4301,127.0.0.1:4302,127.0.0.1:4303
  ALLEYCAT_DATABASE_URL="$pg_url" ALLEYCAT_OBJECT_STORE=s3://alleycat
  ALLEYCAT_S3_ENDPOINT="http://127.0.0.1:$moto_port" ALLEYCAT_S3_ACCESS_KEY_ID=bench
  ALLEYCAT_S3_SECRET_ACCESS_KEY=bench ALLEYCAT_S3_ALLOW_HTTP=true)
one=$(serve one "${shared[@]}")
ride "one server over NATS (3 nodes, R3), PostgreSQL, moto" "$one" 1
two=$(serve two "${shared[@]}")
ride "two servers over NATS (3 nodes, R3), PostgreSQL, moto" "$one,$two" $((RACERS + 1))
