#!/usr/bin/env bash
# Sets everything up, builds, and starts Alleycat on its embedded defaults.
# Any arguments are passed to `alleycat serve` (see `alleycat serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-app.sh
printf '\033[1m==> %s\033[0m\n' "Building the server (cargo build --release)"
cargo build --release -p alleycat-server
printf '\033[1m==> %s\033[0m\n' "Starting Alleycat: open ${ALLEYCAT_PUBLIC_URL:-http://localhost:${ALLEYCAT_PORT:-3000}/} (Ctrl-C stops it)"
# A small field of simulated racers rides every class, so the first page is alive; give
# --demo-racers (or ALLEYCAT_DEMO_RACERS) yourself to change it, 0 to turn it off.
demo=(--demo-racers 30)
if [[ -n "${ALLEYCAT_DEMO_RACERS:-}" ]] || [[ " $* " == *" --demo-racers"* ]]; then demo=(); fi
exec target/release/alleycat serve "${demo[@]}" "$@"
