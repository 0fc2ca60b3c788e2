#!/usr/bin/env bash
# Fault matrix (issue #19, RELIABILITY.md): with simulated racers riding (`alleycat-sim`), inject
# a fault into a running deployment, heal it, and check that nothing acknowledged was lost.
#
#   sudo scripts/faults.sh [--short] [ROW...]      (default: every row)
#
# Rows (each on fresh data, components and ports, torn down at its end):
#   disk-full   the data disk (a tmpfs shared with the server's log) full for 10 s, then
#               remounted larger
#   s3          the object store (moto) paused with SIGSTOP for 30 s, then SIGCONT
#   sigkill     the server SIGKILLed while delivery is flushing an object (its PUT held in
#               flight by pausing moto), then moto resumed and the server restarted on its data
#   reshard-kill  the server SIGKILLed while the embedded stream reshards (UpdateShardCount
#               4 -> 8 on `alleycat` through the Kinesis API, 10 s into the ride, 5 s with
#               --short), the kill sent the moment the first child shard's folder appears (the
#               reshard is opening its children, its new map not written yet), or with
#               RESHARD_KILL_AT=map the moment its new map replaces `stream.meta` (the parents
#               not closed yet); restarted on its data, the stream must hold the old map or the
#               new one, and reshard again
#   postgres    PostgreSQL stopped for 30 s under two servers sharing it (with NATS and S3):
#               the lease holder stops delivering, puts carry on, delivery resumes on one
#   nats        the JetStream stream's leader node (of three) SIGSTOPped for 20 s, then SIGCONT
#   clock       the wall clock stepped 5 s back and forth through the injected clock: the Rust
#               test tests/tests/faults_clock.rs (the binary has no clock hook), run here
#
# --short (CI): races of 30 s and faults of a third of their length (10 s, 10 s, 7 s, 5 s).
# Settings (environment): RACERS (1000), RIDES (races ridden, joining the running one; 2),
# RACE_SECONDS (60), RESHARD_KILL_AT (children or map: the reshard-kill row's moment), PROFILE
# (debug or release, default debug), KEEP=1 (keep the data of every row in a temporary
# directory, to investigate; it is printed), ALLEYCAT_MOTO_SERVER (default
# .tools/venv/bin/moto_server, from scripts/setup.sh). The nats row uses scripts/nats-cluster.sh's
# fixed ports (4301-4303, 6301-6303, 8301-8303).
#
# Per row it prints: events acknowledged (the generator's count), events lost: acknowledged
# events missing from the race results / from the class history files once the merge settled
# (`alleycat-sim --check-seconds`, which also counts events in the results twice), how long
# after the heal puts succeeded again (`alleycat_events_accepted_total` grew) or that they never
# stopped, what clients saw (the servers' `alleycat_events_rejected_total` by reason from the
# injection until puts succeeded again, the generator's retried requests and final failures),
# and the `/readyz` answers sampled every 0.5 s while the fault lasted (status and the
# components not ready, with how many samples).
#
# Needs root (tmpfs mounts; PostgreSQL runs as the `postgres` user). Exits 1 when any row lost
# an acknowledged event, counted one twice, or could not be checked.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

SHORT=0
if [ "${1:-}" = --short ]; then
  SHORT=1
  shift
fi
RACERS=${RACERS:-1000}
RIDES=${RIDES:-2}
PROFILE=${PROFILE:-debug}
if [ "$SHORT" = 1 ]; then
  RACE_SECONDS=${RACE_SECONDS:-30}
  DISK_SECONDS=5 S3_SECONDS=10 PG_SECONDS=10 NATS_SECONDS=7 RESHARD_AFTER=5
else
  RACE_SECONDS=${RACE_SECONDS:-60}
  DISK_SECONDS=10 S3_SECONDS=30 PG_SECONDS=30 NATS_SECONDS=20 RESHARD_AFTER=10
fi
MOTO=${ALLEYCAT_MOTO_SERVER:-$repo/.tools/venv/bin/moto_server}
API_KEY=faults
BUCKET=alleycat-faults
CHECK_SECONDS=180
ROWS=("$@")
[ ${#ROWS[@]} -gt 0 ] || ROWS=(disk-full s3 sigkill reshard-kill postgres nats clock)
for name in "${ROWS[@]}"; do
  case $name in
    disk-full | s3 | sigkill | reshard-kill | postgres | nats | clock) ;;
    *) echo "unknown row $name (rows: disk-full s3 sigkill reshard-kill postgres nats clock)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "faults.sh mounts tmpfs file systems: run it as root" >&2; exit 1; }

if [ "$PROFILE" = release ]; then
  cargo build --release --locked -p alleycat-server -p alleycat-sim
else
  cargo build --locked -p alleycat-server -p alleycat-sim
fi
bin=$repo/target/$PROFILE
work=$(mktemp -d)
# PostgreSQL runs as `postgres`, which must reach its cluster under here.
chmod 755 "$work"
lost_any=0

# What a row started, for its teardown (and the exit trap's).
servers=()   # ports of running `alleycat serve` processes (pid in $work/pids/<port>)
stopped=()   # pids paused with SIGSTOP
watchers=()  # /readyz samplers
sim_pid=
moto_pid=
nats_dir=
pg_dir=
mounts=()
mkdir -p "$work/pids"

teardown() {
  local pid port
  for pid in "${stopped[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done
  stopped=()
  for pid in "${watchers[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  watchers=()
  [ -n "$sim_pid" ] && { kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; }
  sim_pid=
  for port in "${servers[@]}"; do
    pid=$(cat "$work/pids/$port")
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  servers=()
  [ -n "$moto_pid" ] && { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; }
  moto_pid=
  [ -n "$nats_dir" ] && { scripts/nats-cluster.sh stop "$nats_dir" >/dev/null || true; }
  nats_dir=
  [ -n "$pg_dir" ] && { scripts/postgres.sh stop "$pg_dir" >/dev/null || true; }
  pg_dir=
  local i m
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m=${mounts[$i]}
    # What was on the disk outlives it: the logs, and with KEEP=1 the data.
    mkdir -p "$m.kept"
    if [ "${KEEP:-0}" = 1 ]; then
      (cd "$m" && find . -mindepth 1 -maxdepth 1 ! -name filler -exec cp -a {} "$m.kept/" \;) || true
    else
      cp "$m"/*.log "$m.kept/" 2>/dev/null || true
    fi
    umount "$m" 2>/dev/null || true
  done
  mounts=()
}
# Logs of a failed run are kept in target/faults-logs (servers, generator, components).
cleanup() {
  local status=$?
  teardown
  if [ "$status" != 0 ]; then
    rm -rf target/faults-logs
    mkdir -p target/faults-logs
    (cd "$work" && find . \( -name '*.log' -o -name '*.json' -o -name 'ready-*.txt' \) \
      -exec cp --parents {} "$repo/target/faults-logs" \;) 2>/dev/null || true
    echo "faults.sh failed: logs in target/faults-logs" >&2
  fi
  if [ "${KEEP:-0}" = 1 ]; then
    echo "kept $work (KEEP=1): remove it when done" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
elapsed_since() { python3 -c "print(f'{$(date +%s.%N) - $1:.1f}')"; }

# Starts `alleycat serve` on data directory $1, logging to $2, on port $3, with more settings
# (NAME=value) after; waits until it answers.
serve() {
  local data=$1 log=$2 port=$3
  shift 3
  mkdir -p "$(dirname "$log")"
  env ALLEYCAT_PORT="$port" ALLEYCAT_DATA_DIR="$data" ALLEYCAT_DIST="$work/no-dist" \
    ALLEYCAT_API_KEY=$API_KEY ALLEYCAT_LOG=info NO_COLOR=1 ALLEYCAT_RACE_SECONDS="$RACE_SECONDS" \
    ALLEYCAT_DELIVERY_INTERVAL_MS=1000 ALLEYCAT_ROSTER_SIZE=2000 "$@" \
    "$bin/alleycat" serve >>"$log" 2>&1 &
  echo $! >"$work/pids/$port"
  servers+=("$port")
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return
    sleep 0.1 # waiting for the server to listen, with a deadline
  done
  tail -20 "$log" >&2
  echo "the server on port $port did not start" >&2
  exit 1
}

# SIGKILLs the server on port $1 and reaps it.
kill_server() {
  kill -9 "$(cat "$work/pids/$1")"
  reap_server "$1"
}
# Reaps the server on port $1, killed already, and forgets it.
reap_server() {
  local pid
  pid=$(cat "$work/pids/$1")
  wait "$pid" 2>/dev/null || true
  local kept=()
  for port in "${servers[@]}"; do [ "$port" = "$1" ] || kept+=("$port"); done
  servers=("${kept[@]}")
}

# Starts moto on a free port and creates the bucket; prints the S3 settings for `serve`.
start_moto() {
  [ -x "$MOTO" ] || { echo "moto_server not found at $MOTO: run scripts/setup.sh" >&2; exit 1; }
  local port
  port=$(free_port)
  "$MOTO" --host 127.0.0.1 --port "$port" >"$work/moto-$port.log" 2>&1 &
  moto_pid=$!
  for _ in $(seq 300); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1 # waiting for moto to listen, with a deadline
  done
  curl -sf -X PUT "http://127.0.0.1:$port/$BUCKET" >/dev/null
  moto_port=$port
}
s3_env() {
  echo ALLEYCAT_OBJECT_STORE=s3://$BUCKET ALLEYCAT_S3_ENDPOINT=http://127.0.0.1:$moto_port \
    ALLEYCAT_S3_ACCESS_KEY_ID=faults ALLEYCAT_S3_SECRET_ACCESS_KEY=faults ALLEYCAT_S3_ALLOW_HTTP=true
}

pause() { kill -STOP "$1"; stopped+=("$1"); }
resume() {
  kill -CONT "$1"
  local kept=()
  for pid in "${stopped[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
  stopped=("${kept[@]}")
}

# The sum of a counter over the servers on ports $2... (0 where absent or unreachable).
metric() {
  local name=$1 port sum=0 value
  shift
  for port in "$@"; do
    value=$(curl -sf --max-time 5 "http://127.0.0.1:$port/metrics" 2>/dev/null |
      awk -v name="$name" '$1 == name || index($1, name "{") == 1 { sum += $2 } END { print sum + 0 }') || value=0
    sum=$((sum + ${value:-0}))
  done
  echo "$sum"
}

# The rejected events by reason over the servers on ports $@, as `reason=count` lines.
rejections() {
  local port
  for port in "$@"; do
    curl -sf --max-time 5 "http://127.0.0.1:$port/metrics" 2>/dev/null |
      sed -n 's/^alleycat_events_rejected_total{reason="\([^"]*\)"} \([0-9]*\).*/\1 \2/p' || true
  done | awk '{ n[$1] += $2 } END { for (r in n) print r "=" n[r] }' | sort
}

# The rejections between two snapshots ($1 before, $2 after), as `reason ×n, ...`.
rejected_between() {
  python3 - "$1" "$2" <<'EOF'
import sys
def parse(text):
    return {k: int(v) for k, v in (l.split("=") for l in text.split() if "=" in l)}
before, after = parse(sys.argv[1]), parse(sys.argv[2])
seen = [f"`{r}` ×{n - before.get(r, 0):,}" for r, n in sorted(after.items()) if n > before.get(r, 0)]
print(", ".join(seen) or "no rejections")
EOF
}

# Samples /readyz of the server on port $1 every 0.5 s into $2 ("<status> <components not
# ready>") until the file $3 exists.
watch_ready() {
  local port=$1 out=$2 stop=$3
  while [ ! -e "$stop" ]; do
    curl -s --max-time 5 -w '\n%{http_code}\n' "http://127.0.0.1:$port/readyz" 2>/dev/null |
      python3 -c '
import json, sys
lines = sys.stdin.read().rstrip("\n").split("\n")
code = lines[-1] if lines and lines[-1] else "000"
try:
    parts = json.loads("\n".join(lines[:-1]))["components"]
    bad = [name + ":" + part.get("state", "?") for name, part in sorted(parts.items()) if not part.get("ready")]
    print(code, ",".join(bad) or "all ready")
except Exception:
    print(code, "no answer" if code == "000" else "no JSON")' >>"$out" 2>/dev/null || echo "000 no answer" >>"$out"
    sleep 0.5 # a sampling period, not a synchronisation
  done
}
start_watching() {
  local port
  for port in "$@"; do
    watch_ready "$port" "$row/ready-$port.txt" "$row/stop-watch" &
    watchers+=($!)
  done
}
# The samples of every watched server, as `status states ×n; ...` (prefixed by port when several).
readiness_seen() {
  local files=("$row"/ready-*.txt) f port sep=
  for f in "${files[@]}"; do
    [ -e "$f" ] || continue
    port=${f##*/ready-}
    port=${port%.txt}
    printf '%s' "$sep"
    [ ${#files[@]} -gt 1 ] && printf 'server :%s: ' "$port"
    sort "$f" | uniq -c | sort -rn | awk '{c=$1; $1=""; printf "%s%s ×%s", sep, substr($0,2), c; sep="; "}'
    sep=' — '
  done
}

# Waits until the servers on ports $2... accepted more than $1 events in all; prints the
# seconds it took.
until_accepting() {
  local before=$1 start
  shift
  start=$(date +%s.%N)
  for _ in $(seq 2400); do
    [ "$(metric alleycat_events_accepted_total "$@")" -gt "$before" ] && break
    sleep 0.05 # polling a counter, with a deadline
  done
  elapsed_since "$start"
}

# Starts the generator against the servers on ports $@: RACERS racers ride RIDES races on the
# clock, joining the running one, then check what was stored; waits until events are accepted.
ride() {
  local urls=() port
  for port in "$@"; do urls+=("http://127.0.0.1:$port"); done
  NO_COLOR=1 "$bin/alleycat-sim" --server "$(IFS=,; echo "${urls[*]}")" --api-key $API_KEY \
    --racers "$RACERS" --races "$RIDES" --join-within "$RACE_SECONDS" --connections 4 \
    --retry-seconds 120 --check-seconds $CHECK_SECONDS --json \
    >"$row/sim.json" 2>"$row/sim.log" &
  sim_pid=$!
  for _ in $(seq 600); do
    [ "$(metric alleycat_events_accepted_total "$@")" -gt 0 ] && return
    sleep 0.1 # waiting for the ride to start, with a deadline
  done
  echo "the ride did not start" >&2
  exit 1
}

# Injection bookkeeping: call `injected PORTS` right after injecting and `healed PORTS` right
# after healing; `healed` measures how long until puts succeed again.
injected() {
  accepted_at_fault=$(metric alleycat_events_accepted_total "$@")
  rejected_at_fault=$(rejections "$@")
  start_watching "$@"
}
healed() {
  local accepted_at_heal rejected_now
  accepted_at_heal=$(metric alleycat_events_accepted_total "$@")
  rejected_now=$(rejections "$@")
  if [ "$rejected_now" = "$rejected_at_fault" ] && [ "$accepted_at_heal" -gt "$accepted_at_fault" ]; then
    heal="never stopped ($((accepted_at_heal - accepted_at_fault)) accepted during the fault)"
  else
    heal="$(until_accepting "$accepted_at_heal" "$@") s after the heal"
  fi
  touch "$row/stop-watch"
  rejected_seen=$(rejected_between "$rejected_at_fault" "$(rejections "$@")")
}

# Waits for the generator (its ride and check), stops the servers gracefully, prints the row.
finish() {
  local name=$1
  wait "$sim_pid" || true
  sim_pid=
  local port pid
  for port in "${servers[@]}"; do
    pid=$(cat "$work/pids/$port")
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  servers=()
  local verdict
  verdict=$(python3 - "$row/sim.json" <<'EOF'
import json, sys
try:
    s = json.load(open(sys.argv[1]))
    c = s["check"]
except Exception as e:
    print(f"1\t?\t? (no check: {e})\t?")
    sys.exit()
lost = c["missingFromResults"] + c["missingFromHistory"]
twice = c["extraInResults"] if s["failed"] == 0 else 0
wrong = c["wrongTotals"] if s["failed"] == 0 else 0
failed = ", ".join(f"`{k}` ×{v:,}" for k, v in s["failedByCode"].items()) or "none"
lost_text = f'{c["missingFromResults"]} / {c["missingFromHistory"]}'
if twice or wrong:
    lost_text += f" ({twice} counted twice, {wrong} wrong totals)"
clients = f'{s["retriedRequests"]:,} requests retried; final failures: {failed}'
print(f'{int(lost > 0 or twice > 0 or wrong > 0)}\t{s["acknowledged"]:,}\t{lost_text}\t{clients}')
EOF
)
  local acked lost clients bad
  IFS=$'\t' read -r bad acked lost clients <<<"$verdict"
  [ "$bad" = 0 ] || lost_any=1
  printf '| %s | %s | %s | %s | %s; %s | %s |\n' "$name" "$acked" "$lost" "$heal" \
    "$rejected_seen" "$clients" "$(readiness_seen)" | tee -a "$work/table.md"
  teardown
}

new_row() {
  row=$work/$1
  mkdir -p "$row"
  heal=? rejected_seen=?
}

# The data disk (shared with the server's log) fills up while racers ride, then grows again.
row_disk_full() {
  new_row disk-full
  mkdir -p "$row/disk"
  mount -t tmpfs -o size=256m tmpfs "$row/disk"
  mounts+=("$row/disk")
  local port
  port=$(free_port)
  serve "$row/disk/data" "$row/disk/server.log" "$port"
  ride "$port"
  dd if=/dev/zero of="$row/disk/filler" bs=4k status=none 2>/dev/null || true
  injected "$port"
  sleep "$DISK_SECONDS" # the fault lasts this long
  mount -o remount,size=2g "$row/disk"
  healed "$port"
  finish "data disk (tmpfs, shared with the server's log) full for $DISK_SECONDS s, then remounted larger"
}

# The object store unreachable: moto paused while racers ride, then resumed.
row_s3() {
  new_row s3
  start_moto
  local port
  port=$(free_port)
  # shellcheck disable=SC2046 # s3_env is a list of settings
  serve "$row/a/data" "$row/a/server.log" "$port" $(s3_env)
  ride "$port"
  pause "$moto_pid"
  injected "$port"
  sleep "$S3_SECONDS" # the fault lasts this long
  resume "$moto_pid"
  healed "$port"
  finish "object store (moto) paused with SIGSTOP for $S3_SECONDS s, then SIGCONT"
}

# Bytes moto has received and not read (a request held in flight while it is paused).
moto_unread() {
  python3 - "$moto_port" <<'EOF'
import sys
port, unread = int(sys.argv[1]), 0
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        lines = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for line in lines:
        fields = line.split()
        local, state, queues = fields[1], fields[3], fields[4]
        if int(local.rsplit(":", 1)[1], 16) == port and state == "01":  # established
            unread += int(queues.split(":")[1], 16)
print(unread)
EOF
}

# The server SIGKILLed with delivery's PUT in flight (moto paused holds it), restarted.
row_sigkill() {
  new_row sigkill
  start_moto
  local port
  port=$(free_port)
  # shellcheck disable=SC2046
  serve "$row/a/data" "$row/a/server.log" "$port" $(s3_env)
  ride "$port"
  pause "$moto_pid"
  local unread=0
  for _ in $(seq 200); do
    unread=$(moto_unread)
    [ "$unread" -gt 1000 ] && break
    sleep 0.05 # waiting for delivery's next PUT to be sent, with a deadline
  done
  injected "$port"
  kill_server "$port"
  local start
  start=$(date +%s.%N)
  # Resumed first: the server checks its bucket at start.
  resume "$moto_pid"
  serve "$row/a/data" "$row/a/server.log" "$port" $(s3_env)
  until_accepting 0 "$port" >/dev/null
  heal="$(elapsed_since "$start") s after the kill (restart included)"
  touch "$row/stop-watch"
  rejected_seen=$(rejected_between "" "$(rejections "$port")")
  finish "server SIGKILLed while delivery's PUT ($unread bytes) was in flight (moto paused); moto resumed, server restarted on its data"
}

# The Kinesis API's settings for `serve` (on port $kinesis_port) and for its clients.
KINESIS_KEY=AKIDFAULTS
KINESIS_SECRET=faults-kinesis-secret
kinesis_env() {
  echo ALLEYCAT_KINESIS_PORT=$kinesis_port ALLEYCAT_KINESIS_ACCESS_KEY_ID=$KINESIS_KEY \
    ALLEYCAT_KINESIS_SECRET_ACCESS_KEY=$KINESIS_SECRET
}
# The AWS CLI (scripts/setup.sh's venv) against that API.
kinesis() {
  env AWS_ACCESS_KEY_ID=$KINESIS_KEY AWS_SECRET_ACCESS_KEY=$KINESIS_SECRET AWS_DEFAULT_REGION=us-east-1 \
    "$repo/.tools/venv/bin/aws" kinesis --endpoint-url "http://127.0.0.1:$kinesis_port" "$@"
}
# `<open> <closed>` shard counts of the stream `alleycat`.
shard_counts() {
  kinesis list-shards --stream-name alleycat --output json | python3 -c '
import json, sys
shards = json.load(sys.stdin)["Shards"]
closed = sum("EndingSequenceNumber" in s["SequenceNumberRange"] for s in shards)
print(len(shards) - closed, closed)'
}

# Sends UpdateShardCount (stream `alleycat`, target $1, UNIFORM_SCALING) to the Kinesis API,
# signed, and SIGKILLs the server (pid $2) the moment the stream (folder $3) shows the step
# $RESHARD_KILL_AT: `children` (default), the first child shard's folder appeared; `map`, a
# new `stream.meta` replaced the old one; or 10 s after sending; prints what was in flight.
reshard_and_kill() {
  env AWS_ACCESS_KEY_ID=$KINESIS_KEY AWS_SECRET_ACCESS_KEY=$KINESIS_SECRET \
    "$repo/.tools/venv/bin/python" - "$kinesis_port" "$1" "$2" "$3" "${RESHARD_KILL_AT:-children}" <<'EOF'
import json, os, select, signal, socket, sys, time
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

port, target, pid, stream, at = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
meta = os.path.join(stream, "stream.meta")
old_map = os.stat(meta).st_ino
def reached():
    if at == "map":
        try:
            return os.stat(meta).st_ino != old_map
        except FileNotFoundError:
            return False
    return os.path.exists(os.path.join(stream, "shard-000004"))
body = json.dumps({"StreamName": "alleycat", "TargetShardCount": target,
                   "ScalingType": "UNIFORM_SCALING"})
request = AWSRequest("POST", f"http://127.0.0.1:{port}/", data=body, headers={
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "Kinesis_20131202.UpdateShardCount"})
SigV4Auth(Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]),
          "kinesis", "us-east-1").add_auth(request)
head = f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items() if k.lower() != "host")
sock = socket.create_connection(("127.0.0.1", port))
sock.sendall((head + "\r\n" + body).encode())
sent = time.monotonic()
while not reached() and time.monotonic() < sent + 10:
    time.sleep(0.0002)  # polling for the step, with a deadline
done = reached()
answered = bool(select.select([sock], [], [], 0)[0])
os.kill(pid, signal.SIGKILL)
ms = (time.monotonic() - sent) * 1000
children = len([n for n in os.listdir(stream) if n.startswith("shard-")]) - 4
step = "its new map had replaced the old one" if at == "map" else "its first child shard's folder had appeared"
print(f"{ms:.0f} ms after UpdateShardCount was sent: {step if done else 'NOT REACHED: ' + step}, "
      f"{children} of 8 children's folders there, {'answered' if answered else 'not answered yet'}")
EOF
}

# The server SIGKILLed while the embedded stream reshards (UpdateShardCount through the Kinesis
# API), restarted on its data; the stream holds the old map or the new one and reshards again.
row_reshard_kill() {
  new_row reshard-kill
  local port
  port=$(free_port)
  kinesis_port=$(free_port)
  # shellcheck disable=SC2046 # kinesis_env is a list of settings
  serve "$row/a/data" "$row/a/server.log" "$port" $(kinesis_env)
  ride "$port"
  local before inflight
  before=$(shard_counts)
  [ "$before" = "4 0" ] || { echo "the stream had $before open/closed shards, not 4 0" >&2; exit 1; }
  sleep "$RESHARD_AFTER" # racers ride for a while first
  injected "$port"
  inflight=$(reshard_and_kill 8 "$(cat "$work/pids/$port")" "$row/a/data/stream")
  reap_server "$port"
  local start
  start=$(date +%s.%N)
  # shellcheck disable=SC2046
  serve "$row/a/data" "$row/a/server.log" "$port" $(kinesis_env)
  until_accepting 0 "$port" >/dev/null
  heal="$(elapsed_since "$start") s after the kill (restart included)"
  touch "$row/stop-watch"
  rejected_seen=$(rejected_between "" "$(rejections "$port")")
  # The reshard happened or it did not: 4 open shards and none closed, or the 8 children open
  # and their 4 parents closed. Either way the stream reshards again, while racers ride.
  local after outcome again expected
  after=$(shard_counts)
  case $after in
    "4 0")
      outcome="not done (4 shards); a new UpdateShardCount 8 after the restart"
      kinesis update-shard-count --stream-name alleycat --target-shard-count 8 \
        --scaling-type UNIFORM_SCALING >/dev/null
      expected="8 4" ;;
    "8 4")
      outcome="done (8 open shards, 4 closed); a new UpdateShardCount 4 after the restart"
      kinesis update-shard-count --stream-name alleycat --target-shard-count 4 \
        --scaling-type UNIFORM_SCALING >/dev/null
      expected="4 12" ;;
    *)
      outcome="left INCONSISTENT ($after open/closed shards)"
      expected=none
      lost_any=1 ;;
  esac
  if [ "$expected" != none ]; then
    again=$(shard_counts)
    if [ "$again" = "$expected" ]; then
      outcome+=" left $again open/closed"
    else
      outcome+=" left $again open/closed, not $expected: INCONSISTENT"
      lost_any=1
    fi
  fi
  finish "server SIGKILLed while the stream resharded 4 -> 8 (UpdateShardCount on \`alleycat\` through the Kinesis API), $inflight; restarted on its data: the reshard was $outcome"
}

# How many of the servers on ports $@ hold the pipeline lease (`/api/metrics`).
lease_holders() {
  local port
  for port in "$@"; do
    curl -s --max-time 5 "http://127.0.0.1:$port/api/metrics"
    echo
  done | grep -c '"pipelineLeader":true' || true
}
# Waits, up to 120 s, until exactly one of the servers on ports $2... holds the lease; sets
# `holders` to how long after $1 (a `date +%s.%N`) that was, or to how many held it at the
# deadline (and then fails the run).
until_one_lease_holder() {
  local since=$1 n
  shift
  for _ in $(seq 1200); do
    n=$(lease_holders "$@")
    if [ "$n" = 1 ]; then
      holders="one lease holder $(elapsed_since "$since") s after PostgreSQL was back"
      return
    fi
    sleep 0.1 # polling the lease, with a deadline
  done
  holders="$n lease holders 120 s after PostgreSQL was back, not one"
  lost_any=1
}

# PostgreSQL stopped under two servers sharing it (stream on NATS, objects in S3).
row_postgres() {
  new_row postgres
  start_moto
  nats_dir=$row/nats
  scripts/nats-cluster.sh start "$nats_dir" >"$row/nats.log"
  pg_dir=$row/pg
  local pg_port a b
  pg_port=$(free_port)
  ALLEYCAT_PG_PORT=$pg_port scripts/postgres.sh start "$pg_dir" >"$row/pg.log"
  local shared=(ALLEYCAT_STREAM=nats://127.0.0.1:4301,127.0.0.1:4302,127.0.0.1:4303
    ALLEYCAT_DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/alleycat $(s3_env))
  a=$(free_port)
  b=$(free_port)
  serve "$row/a/data" "$row/a/server.log" "$a" "${shared[@]}"
  serve "$row/b/data" "$row/b/server.log" "$b" "${shared[@]}"
  ride "$a" "$b"
  ALLEYCAT_PG_PORT=$pg_port scripts/postgres.sh stop "$pg_dir" >>"$row/pg.log"
  injected "$a" "$b"
  sleep "$PG_SECONDS" # the fault lasts this long
  ALLEYCAT_PG_PORT=$pg_port scripts/postgres.sh start "$pg_dir" >>"$row/pg.log"
  local back
  back=$(date +%s.%N)
  healed "$a" "$b"
  until_one_lease_holder "$back" "$a" "$b"
  finish "PostgreSQL stopped for $PG_SECONDS s under two servers (NATS stream, S3 objects), then started; $holders"
}

# The node leading the JetStream stream `alleycat` (n0, n1 or n2): the node whose monitoring
# endpoint (`/jsz`) names itself as the stream's leader, as the others name it too. Asked again
# for up to 10 s (an election may be under way); fails the run when no node says it leads.
nats_stream_leader() {
  local i leader
  for _ in $(seq 100); do
    leader=$(for i in 0 1 2; do
      printf 'n%s ' "$i"
      curl -sf --max-time 2 "http://127.0.0.1:830$((i + 1))/jsz?accounts=true&streams=true" 2>/dev/null | tr -d '\n'
      echo
    done | python3 -c '
import json, sys
claims, named = [], set()
for line in sys.stdin:
    node, _, body = line.partition(" ")
    try:
        accounts = json.loads(body).get("account_details", [])
    except ValueError:
        continue
    for account in accounts:
        for stream in account.get("stream_detail", []):
            leader = (stream.get("cluster") or {}).get("leader")
            if stream.get("name") == "alleycat" and leader:
                named.add(leader)
                if leader == node:
                    claims.append(node)
if len(claims) == 1 and named == set(claims):
    print(claims[0])')
    [ -n "$leader" ] && { echo "$leader"; return; }
    sleep 0.1 # waiting for the nodes to agree on a leader, with a deadline
  done
  echo "cannot find the JetStream stream's leader in the nodes' /jsz" >&2
  exit 1
}

# The JetStream stream's leader node paused while racers ride, then resumed.
row_nats() {
  new_row nats
  nats_dir=$row/nats
  scripts/nats-cluster.sh start "$nats_dir" >"$row/nats.log"
  local port
  port=$(free_port)
  serve "$row/a/data" "$row/a/server.log" "$port" \
    ALLEYCAT_STREAM=nats://127.0.0.1:4301,127.0.0.1:4302,127.0.0.1:4303
  ride "$port"
  local leader pid
  leader=$(nats_stream_leader) || exit 1
  pid=$(cat "$nats_dir/$leader.pid")
  pause "$pid"
  injected "$port"
  sleep "$NATS_SECONDS" # the fault lasts this long
  resume "$pid"
  healed "$port"
  finish "NATS node $leader (the stream's leader, of three) paused with SIGSTOP for $NATS_SECONDS s, then SIGCONT"
}

# The wall clock stepped: a Rust test (the server binary has no clock to step from outside).
row_clock() {
  new_row clock
  local report=$row/row.md
  if ALLEYCAT_FAULTS_ROW="$report" ALLEYCAT_FAULTS_RACERS="$RACERS" \
    cargo nextest run --workspace --exclude alleycat-app --locked --no-fail-fast \
    -E 'binary(faults_clock)' >"$row/test.log" 2>&1 && [ -s "$report" ]; then
    tee -a "$work/table.md" <"$report"
  else
    tail -40 "$row/test.log" >&2
    echo "| wall clock stepped 5 s (tests/tests/faults_clock.rs) | ? | the test failed | ? | ? | ? |" | tee -a "$work/table.md"
    lost_any=1
  fi
}

echo "Fault matrix: $RACERS racers riding $RIDES races of $RACE_SECONDS s (joining the running one), $PROFILE build$([ "$SHORT" = 1 ] && echo ", --short"), $(date -u +%Y-%m-%dT%H:%MZ)"
echo '| fault | events acknowledged | events lost (results / history) | puts succeed again | what clients saw | /readyz during the fault |'
echo '|---|---|---|---|---|---|'
for name in "${ROWS[@]}"; do
  "row_${name//-/_}"
done
# Any acknowledged event lost fails the run (for CI).
exit "$lost_any"
