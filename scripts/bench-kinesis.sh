#!/usr/bin/env bash
# PutRecords through the Kinesis API with @aws-sdk/client-kinesis, in one sitting, against
# Alleycat (fsync on every acknowledged record), kinesalite (npm, in memory) and ferrokinesis
# (crates.io; in memory, and with --state-dir, its write-ahead log); then SubscribeToShard's
# delivery latency against Alleycat and ferrokinesis (see BENCHMARKS.md, Kinesis API).
#
#   scripts/bench-kinesis.sh [SECONDS] [CONCURRENCIES] [ROUNDS]   (defaults: 10, 1,8,32 and 2)
#   BENCH_RUST_CLIENT=1 scripts/bench-kinesis.sh ...   also runs kinesis/benches/put_records.rs
#   BASELINE=path/to/alleycat scripts/bench-kinesis.sh ...   also runs that build of Alleycat
#       (as alleycat-baseline, interleaved with the rest), to measure a change before and after
#   BENCH_SUBSCRIBE=0 scripts/bench-kinesis.sh ...   skips the SubscribeToShard part
#   BENCH_FERRO_DURABLE=0 scripts/bench-kinesis.sh ...   skips ferrokinesis --state-dir (its
#       write-ahead log takes about 1 GB of disk per 8-second run)
#
# Builds the release server (and, once, ferrokinesis into .tools/), then for each round and
# concurrency runs tests/kinesis/js/bench.mjs (500-record batches of ~200-byte events) against
# each server in turn (A, B, C, D, A, B, C, D: interleaved, so a change in the machine's load
# falls on all of them), each started fresh on a free port for its run (ferrokinesis' WAL
# appends its whole state on every put, so a fresh state keeps the runs comparable and the
# disk bounded) and stopped after it. bench.mjs reports records/s, p50/p99 per PutRecords call
# and the server's own CPU per record from /proc/<pid>/stat, with the load average: on a shared
# machine CPU per record holds, records/s and latency do not. Ends with a summary table (medians
# over the rounds). Needs `npm ci` in tests/kinesis/js (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-10}
CONCURRENCY=${2:-1,8,32}
ROUNDS=${3:-2}
JS=tests/kinesis/js
FERRO_VERSION=0.7.0
# Where ferrokinesis is installed (cargo install --root); FERRO_ROOT=DIR picks another place,
# e.g. when .tools is shared between worktrees.
FERRO_ROOT=${FERRO_ROOT:-.tools}
FERRO=$FERRO_ROOT/bin/ferrokinesis
LOCK=/tmp/alleycat-bench.lock

[ -d "$JS/node_modules/kinesalite" ] || (cd "$JS" && npm ci --no-audit --no-fund)
# cargo install records what it installed in .tools/.crates.toml (ferrokinesis has no --version).
if ! grep -qF "\"ferrokinesis $FERRO_VERSION " "$FERRO_ROOT/.crates.toml" 2>/dev/null; then
  cargo install ferrokinesis --version "$FERRO_VERSION" --locked --root "$FERRO_ROOT" ||
    echo "ferrokinesis $FERRO_VERSION did not build: measuring without it" >&2
fi
cargo build --release --locked -p alleycat-server
[ -z "${BENCH_RUST_CLIENT:-}" ] || cargo bench --locked -p alleycat-kinesis --bench put_records --no-run

targets=(alleycat kinesalite)
[ -z "${BASELINE:-}" ] || targets=(alleycat-baseline "${targets[@]}")
subscribers=(alleycat)
if [ -x "$FERRO" ]; then
  targets+=(ferrokinesis)
  subscribers+=(ferrokinesis)
  if [ "${BENCH_FERRO_DURABLE:-1}" != 0 ]; then
    targets+=(ferrokinesis-durable)
    subscribers+=(ferrokinesis-durable)
  fi
fi

work=$(mktemp -d)
results=$work/results.jsonl
server_pid=
server_dir=
cleanup() { [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (with a deadline) until `pattern` is in `log`; fails naming the server otherwise.
await_log() {
  local log=$1 pattern=$2 name=$3
  for _ in $(seq 300); do
    grep -qs -e "$pattern" "$log" && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1 # waiting for the server's start-up line, with a deadline
  done
  cat "$log" >&2
  echo "$name did not start" >&2
  exit 1
}

# Starts `name` fresh in its own directory; sets server_pid, server_dir and server_url.
start_server() {
  local name=$1 dir port
  dir=$(mktemp -d -p "$work" "$name.XXXX")
  server_dir=$dir
  case $name in
    alleycat | alleycat-baseline)
      local binary=target/release/alleycat
      [ "$name" = alleycat ] || binary=$BASELINE
      ALLEYCAT_LOG=info "$binary" serve --port 0 --kinesis-port 0 \
        --data-dir "$dir/d" --dist "$dir/dist" --roster-size 100 >"$dir/log" 2>&1 &
      server_pid=$!
      await_log "$dir/log" "--endpoint-url http://" Alleycat
      server_url=http://$(sed -n 's/.*--endpoint-url http:\/\/\([0-9.:]*\).*/\1/p' "$dir/log" | head -1)
      ;;
    kinesalite)
      port=$(free_port)
      node "$JS/node_modules/kinesalite/cli.js" --port "$port" --createStreamMs 0 \
        --shardLimit 1000 >"$dir/log" 2>&1 &
      server_pid=$!
      await_log "$dir/log" Listening kinesalite
      server_url=http://127.0.0.1:$port
      ;;
    ferrokinesis | ferrokinesis-durable)
      port=$(free_port)
      local durable=()
      [ "$name" = ferrokinesis ] || durable=(--state-dir "$dir/state")
      "$FERRO" --port "$port" --create-stream-ms 0 --shard-limit 1000 "${durable[@]}" \
        >"$dir/log" 2>&1 &
      server_pid=$!
      await_log "$dir/log" "Listening at" "$name"
      server_url=http://127.0.0.1:$port
      ;;
  esac
}

# Stops the server and removes what it stored (an 8-second Alleycat run keeps ~200 MB).
stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  rm -rf "$server_dir"
}

echo "load before: $(cat /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
  for concurrency in ${CONCURRENCY//,/ }; do
    for target in "${targets[@]}"; do
      start_server "$target"
      flock "$LOCK" node --no-warnings "$JS/bench.mjs" --label "$target" --endpoint "$server_url" \
        --seconds "$SECONDS_EACH" --concurrency "$concurrency" --server-pid "$server_pid" |
        sed "s/^{/{\"round\":$round,/" | tee -a "$results"
      [ -z "${BENCH_RUST_CLIENT:-}" ] ||
        flock "$LOCK" cargo bench --locked -q -p alleycat-kinesis --bench put_records -- \
          --label "$target" --endpoint "$server_url" --seconds "$SECONDS_EACH" \
          --concurrency "$concurrency"
      stop_server
    done
  done
done
# SubscribeToShard delivery latency (PutRecord sent -> record pushed to a subscriber); kinesalite
# has no enhanced fan-out. Built here, after the PutRecords runs, so they start at once.
[ "${BENCH_SUBSCRIBE:-1}" = 0 ] && subscribers=() ||
  cargo bench --locked -p alleycat-kinesis --bench subscribe_latency --no-run
for round in $(seq "$ROUNDS"); do
  for target in "${subscribers[@]+"${subscribers[@]}"}"; do
    start_server "$target"
    flock "$LOCK" cargo bench --locked -q -p alleycat-kinesis --bench subscribe_latency -- \
      --label "$target" --endpoint "$server_url" |
      sed "s/^{/{\"round\":$round,\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",/" |
      tee -a "$results"
    stop_server
  done
done
echo "load after: $(cat /proc/loadavg)"
python3 scripts/bench-kinesis-summary.py "$results"
