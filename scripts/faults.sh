#!/usr/bin/env bash
# Fault matrix (issue #19, RELIABILITY.md): with simulated racers riding (`alleycat-sim`), inject
# a fault into a running server, heal it, and check that nothing acknowledged was lost.
#
#   sudo scripts/faults.sh [ROW...]     rows: disk-full sigkill   (default: all of them)
#
# Settings (environment): RACERS (default 1000), RIDES (races ridden in real time, one event per
# racer and second; default 2), RACE_SECONDS (default 60), FAULT_SECONDS (how long a fault
# lasts, default 10), PROFILE (debug or release, default debug).
#
# Per row it prints: events acknowledged (the generator's count of distinct events the server
# acknowledged), events lost (acknowledged but not in any delivered object once the server has
# flushed and stopped: must be 0), seconds from the heal until the server accepted events
# again (`alleycat_events_accepted_total` grew), what clients were told meanwhile (the server's
# `alleycat_events_rejected_total` by reason, and the generator's final failures by code), and
# the `/readyz` answers seen while the fault lasted (status and stream state).
#
# Needs root: the data directory lives on a tmpfs that is filled and then remounted larger.
# Exits 1 when any row lost an acknowledged event.
set -euo pipefail
cd "$(dirname "$0")/.."
RACERS=${RACERS:-1000}
RIDES=${RIDES:-2}
RACE_SECONDS=${RACE_SECONDS:-60}
FAULT_SECONDS=${FAULT_SECONDS:-10}
PROFILE=${PROFILE:-debug}
API_KEY=faults
ROWS=("$@")
[ ${#ROWS[@]} -gt 0 ] || ROWS=(disk-full sigkill)
[ "$(id -u)" = 0 ] || { echo "faults.sh mounts a tmpfs: run it as root" >&2; exit 1; }

if [ "$PROFILE" = release ]; then
  cargo build --release --locked -p alleycat-server -p alleycat-sim
else
  cargo build --locked -p alleycat-server -p alleycat-sim
fi
bin=target/$PROFILE
work=$(mktemp -d)
server_pid=
sim_pid=
lost_any=0
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null || true
  for disk in "$work"/*/disk; do umount "$disk" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts `alleycat serve` on row directory $1 (data and log on its disk) and port $2.
serve() {
  local row=$1 port=$2
  env ALLEYCAT_PORT="$port" ALLEYCAT_DATA_DIR="$row/disk/data" ALLEYCAT_DIST="$row/no-dist" \
    ALLEYCAT_API_KEY=$API_KEY ALLEYCAT_LOG=info NO_COLOR=1 ALLEYCAT_RACE_SECONDS="$RACE_SECONDS" \
    ALLEYCAT_DELIVERY_INTERVAL_MS=1000 \
    "$bin/alleycat" serve >>"$row/disk/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return
    sleep 0.1 # waiting for the server to listen, with a deadline
  done
  tail -20 "$row/disk/server.log" >&2
  echo "the server did not start" >&2
  exit 1
}

# A counter of the server's metrics (the sum over its labels), 0 if absent or unreachable.
metric() {
  curl -sf --max-time 2 "http://127.0.0.1:$1/metrics" 2>/dev/null |
    awk -v name="$2" '$1 == name || index($1, name "{") == 1 { sum += $2 } END { print sum + 0 }'
}

# The rejected events by reason, as `reason=count ...`.
rejections() {
  curl -sf --max-time 2 "http://127.0.0.1:$1/metrics" 2>/dev/null |
    sed -n 's/^alleycat_events_rejected_total{reason="\([^"]*\)"} \([0-9]*\).*/\1=\2/p' | tr '\n' ' '
}

# Samples /readyz every 0.5 s into $2 ("<status> <components not ok>") until the file $3 exists.
watch_ready() {
  local port=$1 out=$2 stop=$3
  while [ ! -e "$stop" ]; do
    curl -s --max-time 2 -w '\n%{http_code}\n' "http://127.0.0.1:$port/readyz" 2>/dev/null |
      python3 -c '
import json, sys
lines = sys.stdin.read().rstrip("\n").split("\n")
code = lines[-1] if lines and lines[-1] else "000"
try:
    parts = json.loads("\n".join(lines[:-1]))["components"]
    bad = [name + ":" + part.get("state", "?") for name, part in sorted(parts.items()) if not part.get("ready")]
    print(code, ",".join(bad) or "all ready")
except Exception:
    print(code, "no JSON")' >>"$out" 2>/dev/null || echo "000 no answer" >>"$out"
    sleep 0.5 # a sampling period, not a synchronisation
  done
}

# Waits until `alleycat_events_accepted_total` grows past $2; prints the seconds it took.
until_accepting() {
  local port=$1 before=$2 start
  start=$(date +%s.%N)
  for _ in $(seq 1200); do
    [ "$(metric "$port" alleycat_events_accepted_total)" -gt "$before" ] && break
    sleep 0.05 # polling a counter, with a deadline
  done
  python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')"
}

# Starts the generator: RACERS racers ride the next RIDES races in real time (one event per
# racer and second), then waits until the server has accepted events.
ride() {
  local row=$1 port=$2
  "$bin/alleycat-sim" --server "http://127.0.0.1:$port" --api-key $API_KEY --racers "$RACERS" \
    --races "$RIDES" --connections 4 --retry-seconds 120 --json \
    >"$row/sim.json" 2>"$row/sim.log" &
  sim_pid=$!
  for _ in $(seq $((RACE_SECONDS * 20 + 200))); do
    [ "$(metric "$port" alleycat_events_accepted_total)" -gt 0 ] && return
    sleep 0.1 # waiting for the ride to start, with a deadline
  done
  echo "the ride did not start" >&2
  exit 1
}

# Distinct (race, racer, second) in the delivered objects of the row's data directory.
delivered() {
  python3 - "$1/disk/data" <<'EOF'
import gzip, json, pathlib, sys
seen = set()
for path in pathlib.Path(sys.argv[1]).rglob("*.gz"):
    if "delivery" not in path.parts:
        continue
    for line in gzip.open(path, "rt"):
        e = json.loads(line)
        seen.add((e["raceId"], e["racerId"], e["second"]))
print(len(seen))
EOF
}

# Stops the server gracefully (delivery flushes), then reports the row.
finish() {
  local row=$1 name=$2 port=$3 heal_seconds=$4 rejected=$5
  wait "$sim_pid" || true
  sim_pid=
  # Let delivery catch up with the last events, then stop gracefully (it flushes).
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=
  local acked failed_codes stored ready
  acked=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["acknowledged"])' "$row/sim.json")
  failed_codes=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(" ".join(f"{k}={v}" for k,v in s["failedByCode"].items()) or "none")' "$row/sim.json")
  stored=$(delivered "$row")
  ready=$(sort "$row/ready.txt" | uniq -c | awk '{c=$1; $1=""; printf "%s x%s;", substr($0,2), c}')
  [ "$acked" -gt "$stored" ] && lost_any=1
  printf '| %s | %s | %s | %s | %s (final failures: %s) | %s |\n' \
    "$name" "$acked" "$((acked > stored ? acked - stored : 0))" "$heal_seconds" \
    "${rejected:-none}" "$failed_codes" "$ready" | tee -a "$work/table.md"
}

# The data disk (shared with the server's log) fills up while racers ride, then grows again.
row_disk_full() {
  local row=$work/disk-full port
  mkdir -p "$row/disk"
  mount -t tmpfs -o size=256m tmpfs "$row/disk"
  port=$(free_port)
  serve "$row" "$port"
  ride "$row" "$port"
  local before_rejected
  before_rejected=$(rejections "$port")
  watch_ready "$port" "$row/ready.txt" "$row/stop-watch" &
  # Fill what is left of the disk.
  dd if=/dev/zero of="$row/disk/filler" bs=4k status=none 2>/dev/null || true
  sleep "$FAULT_SECONDS" # the fault lasts this long
  local before
  before=$(metric "$port" alleycat_events_accepted_total)
  mount -o remount,size=2g "$row/disk"
  local heal
  heal=$(until_accepting "$port" "$before")
  touch "$row/stop-watch"
  local after_rejected
  after_rejected=$(rejections "$port")
  finish "$row" "data disk full ${FAULT_SECONDS} s, then remounted larger" "$port" "$heal" \
    "before: ${before_rejected:-none}; after: ${after_rejected:-none}"
}

# The server is SIGKILLed while delivery flushes (1 s interval) and restarted on its data.
row_sigkill() {
  local row=$work/sigkill port
  mkdir -p "$row/disk"
  mount -t tmpfs -o size=2g tmpfs "$row/disk"
  port=$(free_port)
  serve "$row" "$port"
  ride "$row" "$port"
  watch_ready "$port" "$row/ready.txt" "$row/stop-watch" &
  # Kill just after a delivery object appears, so a flush is likely in flight.
  local objects
  objects=$(find "$row/disk/data" -name '*.gz' | wc -l)
  for _ in $(seq 200); do
    [ "$(find "$row/disk/data" -name '*.gz' | wc -l)" -gt "$objects" ] && break
    sleep 0.02 # polling for the next object, with a deadline
  done
  kill -9 "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  local start heal
  start=$(date +%s.%N)
  serve "$row" "$port"
  heal=$(until_accepting "$port" 0)
  heal=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")
  touch "$row/stop-watch"
  finish "$row" "server SIGKILLed while delivery flushes, restarted" "$port" "$heal (restart included)" \
    "$(rejections "$port")"
}

echo "Fault matrix: $RACERS racers riding $RIDES races of $RACE_SECONDS s, faults of $FAULT_SECONDS s, $PROFILE build, $(date -u +%Y-%m-%dT%H:%MZ)"
echo '| fault | events acknowledged | events lost | seconds until puts succeed again | what clients saw (server rejections by reason) | /readyz during the fault |'
echo '|---|---|---|---|---|---|'
for row in "${ROWS[@]}"; do
  "row_${row//-/_}"
done
# Any acknowledged event lost fails the run (for CI).
exit "$lost_any"
