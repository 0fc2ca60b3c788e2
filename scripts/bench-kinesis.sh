#!/usr/bin/env bash
# PutRecords throughput through the Kinesis API with @aws-sdk/client-kinesis, against Alleycat
# and against kinesalite on the same machine in the same run (see BENCHMARKS.md, Kinesis API).
#
#   scripts/bench-kinesis.sh [SECONDS] [CONCURRENCIES]     (defaults: 10 and 1,8,32)
#
# Builds the release server, starts it (--kinesis-port 0, a temporary data directory) and
# kinesalite (in memory, streams ACTIVE at once), runs two clients against each under the
# benchmark lock: tests/kinesis/js/bench.mjs (@aws-sdk/client-kinesis, which costs about a core
# at 130,000 records/s) and kinesis/benches/put_records.rs (a light Rust client, so the figure
# is the server's), then SubscribeToShard's delivery latency against Alleycat
# (kinesis/benches/subscribe_latency.rs); then stops both. Needs `npm ci` in tests/kinesis/js.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-10}
CONCURRENCY=${2:-1,8,32}
JS=tests/kinesis/js

[ -d "$JS/node_modules/@aws-sdk/client-kinesis" ] || (cd "$JS" && npm ci --no-audit --no-fund)
cargo build --release --locked -p alleycat-server
cargo bench --locked -p alleycat-kinesis --bench put_records --no-run
cargo bench --locked -p alleycat-kinesis --bench subscribe_latency --no-run

data=$(mktemp -d)
log=$data/alleycat.log
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$data"; }
trap cleanup EXIT

ALLEYCAT_LOG=info target/release/alleycat serve --port 0 --kinesis-port 0 --data-dir "$data/d" \
  --dist "$data/dist" --roster-size 100 >"$log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
  endpoint=$(sed -n 's/.*--endpoint-url http:\/\/\([0-9.:]*\).*/\1/p' "$log" | head -1)
  [ -n "$endpoint" ] && break
  sleep 0.1 # waiting for the server's log line, with a deadline
done
[ -n "$endpoint" ] || { cat "$log"; echo "Alleycat did not start" >&2; exit 1; }

kport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
node "$JS/node_modules/kinesalite/cli.js" --port "$kport" --createStreamMs 0 --shardLimit 1000 \
  >"$data/kinesalite.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  grep -q Listening "$data/kinesalite.log" && break
  sleep 0.1 # waiting for kinesalite's first line, with a deadline
done

echo "load before: $(uptime)"
for target in "alleycat http://$endpoint" "kinesalite http://127.0.0.1:$kport"; do
  set -- $target
  flock /tmp/alleycat-bench.lock node --no-warnings "$JS/bench.mjs" --label "$1" --endpoint "$2" \
    --seconds "$SECONDS_EACH" --concurrency "$CONCURRENCY"
  flock /tmp/alleycat-bench.lock cargo bench --locked -q -p alleycat-kinesis --bench put_records -- \
    --label "$1" --endpoint "$2" --seconds "$SECONDS_EACH" --concurrency "$CONCURRENCY"
done
# SubscribeToShard delivery latency (PutRecord sent -> record pushed to a subscriber), Alleycat
# only: kinesalite has no enhanced fan-out.
flock /tmp/alleycat-bench.lock cargo bench --locked -q -p alleycat-kinesis --bench subscribe_latency -- \
  --label alleycat --endpoint "http://$endpoint"
echo "load after: $(uptime)"
