#!/usr/bin/env bash
# Per-racer benchmarks of issue #16 (BENCHMARKS.md, "Racers on their own connections"): the
# release `alleycat` server on a fresh data directory, ridden by `alleycat-sim` on the race clock
# on this same machine. The server's CPU is its own process's utime + stime from /proc/<pid>/stat,
# sampled twice a second and taken over the race itself (its start to its end), so the
# generator's CPU and the wait for the race are not in it; robust to other load on the machine
# (CPU time, not wall time). Every line gives the load average.
#
#   scripts/bench-sockets.sh compare [RACERS] [RACE_SECONDS] [SERVER_BINARY...]
#       RACERS (default 1000) ride one race (default 60 s) over `--transport websocket` and then
#       `--transport per-racer-http`, each against a fresh server, for each server binary given
#       (default target/release/alleycat), interleaved in one sitting: server CPU µs per
#       racer-second, ack and ranking-delay percentiles.
#   scripts/bench-sockets.sh race [RACERS] [RACE_SECONDS] [SERVER_BINARY...]
#       RACERS (default 10000) ride one whole race (default 300 s) over WebSockets, then the race
#       results are checked for every acknowledged second (check); the server's share of one core
#       over the race and its peak RSS; once per server binary given, in turn (default
#       target/release/alleycat).
#   scripts/bench-sockets.sh rss [SOCKETS]
#       The server's RSS with SOCKETS (default 10000) racer sockets open and idle (said hello,
#       waiting for a race two races away, receiving the ranking once a second) minus its RSS
#       before they opened, per socket.
#
# BENCH_NO_BUILD=1 skips the release build at the start.
# SERVER_BINARY may be any alleycat build (e.g. a copy of an earlier commit's) to compare with.
# Runs hold /tmp/alleycat-bench.lock, the benchmarks' shared lock.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-compare}
API_KEY=bench-sockets
ulimit -n "$(ulimit -Hn)" # 10,000 sockets on each side, plus the server's files (20,000 here)

# BENCH_NO_BUILD=1 runs the binaries as they are (e.g. while the next build is compiling).
[ -n "${BENCH_NO_BUILD:-}" ] || nice -n 10 cargo build --release --locked -p alleycat-server -p alleycat-sim >&2
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

load() { cut -d' ' -f1-3 /proc/loadavg; }

# Starts the server binary $1 with race length $2 on a fresh data directory; sets $base, $pid.
serve() {
  local binary=$1 seconds=$2 name=server$RANDOM
  local log=$work/$name.log
  env ALLEYCAT_PORT=0 ALLEYCAT_DATA_DIR="$work/$name" ALLEYCAT_DIST="$work/no-dist" \
    ALLEYCAT_API_KEY=$API_KEY ALLEYCAT_RACE_SECONDS="$seconds" ALLEYCAT_MAX_CONNECTIONS=20000 \
    ALLEYCAT_LOG=info NO_COLOR=1 "$binary" serve >"$log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do
    address=$(sed -n 's/.*address=\([0-9.:]*\).*/\1/p' "$log" | head -1)
    if [ -n "$address" ]; then base=http://$address; return; fi
    sleep 0.1 # waiting for the server's address line, with a deadline
  done
  cat "$log" >&2
  echo "the server did not start" >&2
  exit 1
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# Samples "<epoch ms> <CPU ticks> <RSS KiB>" of process $1 into file $2 twice a second.
sample() {
  while kill -0 "$1" 2>/dev/null; do
    echo "$(date +%s%3N) $(awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null) $(awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null)"
    sleep 0.5
  done >"$2"
}

# Rides with `alleycat-sim` (arguments "$@"), sampling the server; prints the summary and the
# server's figures over the race as one line of JSON.
ride() {
  local label=$1 racers=$2 seconds=$3; shift 3
  sample "$pid" "$work/samples" &
  local sampler=$!
  local started_load
  started_load=$(load)
  flock /tmp/alleycat-bench.lock target/release/alleycat-sim --server "$base" --api-key $API_KEY \
    --racers "$racers" --json "$@" 2>"$work/sim.log" >"$work/summary.json" || true
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  python3 - "$label" "$racers" "$seconds" "$work/summary.json" "$work/samples" "$started_load" "$(load)" "$pid" <<'EOF'
import json, sys
label, racers, seconds, summary, samples, load_start, load_end, pid = sys.argv[1:]
racers, seconds = int(racers), int(seconds)
s = json.load(open(summary))
rows = [tuple(float(x) for x in l.split()) for l in open(samples) if len(l.split()) == 3]
race = s["races"][0]
start, end = race * seconds * 1000, (race + 1) * seconds * 1000
inside = [r for r in rows if start <= r[0] <= end + 500]
(t0, c0, _), (t1, c1, _) = inside[0], inside[-1]
cpu_s = (c1 - c0) / 100.0  # USER_HZ
wall_s = (t1 - t0) / 1000.0
racer_seconds = racers * wall_s
peak = max(r[2] for r in rows)
status = open(f"/proc/{pid}/status").read()
hwm = next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM"))
out = {
    "run": label, "racers": racers, "load": f"{load_start} -> {load_end}",
    "serverCpuSeconds": round(cpu_s, 2), "overSeconds": round(wall_s, 1),
    "serverPercentOfOneCore": round(100 * cpu_s / wall_s, 1),
    "serverCpuUsPerRacerSecond": round(1e6 * cpu_s / racer_seconds, 1),
    "serverPeakRssMiB": round(hwm / 1024, 1),
    "sent": s["sent"], "acknowledged": s["acknowledged"], "failed": s["failed"],
    "failedByCode": s["failedByCode"], "abandoned": s["abandoned"], "check": s.get("check"),
    "reconnects": s.get("reconnects"), "ackMs": s["ackLatencyMs"],
    "rankingDelayMs": s.get("rankingDelayMs"),
}
print(json.dumps(out))
EOF
}

case $MODE in
compare)
  racers=${2:-1000}
  seconds=${3:-60}
  shift $(($# < 3 ? $# : 3))
  binaries=("${@:-target/release/alleycat}")
  for binary in "${binaries[@]}"; do
    for transport in websocket per-racer-http; do
      serve "$binary" "$seconds"
      ride "$transport $(basename "$binary")" "$racers" "$seconds" --transport "$transport"
      stop "$pid"
    done
  done
  ;;
race)
  racers=${2:-10000}
  seconds=${3:-300}
  shift $(($# < 3 ? $# : 3))
  binaries=("${@:-target/release/alleycat}")
  for binary in "${binaries[@]}"; do
    serve "$binary" "$seconds"
    ride "websocket race $(basename "$binary")" "$racers" "$seconds" --transport websocket --check-seconds 300
    stop "$pid"
  done
  ;;
rss)
  sockets=${2:-10000}
  seconds=300
  serve target/release/alleycat "$seconds"
  sleep 5 # the server settles after start-up (roster, catch-up)
  before=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  current=$(curl -s "$base/api/config" | python3 -c 'import json,sys; print(json.load(sys.stdin)["currentRaceId"])')
  # A race two races away: every socket opens, says hello and waits, idle but for the rankings.
  target/release/alleycat-sim --server "$base" --api-key $API_KEY --racers "$sockets" \
    --transport websocket --race $((current + 2)) 2>/dev/null >/dev/null &
  simpid=$!
  pids+=("$simpid")
  for _ in $(seq 240); do
    open=$(curl -s "$base/metrics" | awk '/^alleycat_websocket_clients / {print $2}')
    [ "${open:-0}" -ge "$sockets" ] && break
    sleep 0.5 # waiting for every socket to open, with a deadline
  done
  sleep 10 # a few rankings sent to every socket
  after=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  echo "{\"sockets\": $open, \"rssBeforeKiB\": $before, \"rssWithSocketsKiB\": $after, \"perSocketKiB\": $(python3 -c "print(round(($after - $before) / $open, 2))"), \"load\": \"$(load)\"}"
  kill -INT "$simpid" 2>/dev/null || true
  wait "$simpid" 2>/dev/null || true
  stop "$pid"
  ;;
*)
  echo "usage: $0 compare|race|rss [...]" >&2
  exit 2
  ;;
esac
