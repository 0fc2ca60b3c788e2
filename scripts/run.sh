#!/usr/bin/env bash
# Sets everything up, builds, and starts Alleycat on its embedded defaults.
# Any arguments are passed to `alleycat serve` (see `alleycat serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-app.sh
printf '\033[1m==> %s\033[0m\n' "Building the server (cargo build --release)"
cargo build --release -p alleycat-server
printf '\033[1m==> %s\033[0m\n' "Starting Alleycat: open http://${ALLEYCAT_HOST:-127.0.0.1}:${ALLEYCAT_PORT:-3000}/ (Ctrl-C stops it)"
exec target/release/alleycat serve "$@"
