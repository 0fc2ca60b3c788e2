#!/usr/bin/env bash
# Sets everything up and runs every test: formatting, clippy, the Rust tests, and the
# Playwright suite in Chromium against the real server.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

scripts/setup.sh

step "Formatting (cargo fmt --check)"
cargo fmt --all --check

step "Clippy, native crates (-D warnings)"
cargo clippy --workspace --exclude alleycat-app --all-targets --locked -- -D warnings
step "Clippy, the app for wasm32 (-D warnings)"
cargo clippy -p alleycat-app --target wasm32-unknown-unknown --locked -- -D warnings

step "Rust tests"
cargo test --workspace --exclude alleycat-app --locked
step "The app's pure logic, natively"
cargo test -p alleycat-app --locked

scripts/build-app.sh
step "Server and load generator binaries for the browser tests"
cargo build -p alleycat-server -p alleycat-sim --locked

step "Playwright in Chromium"
cd tests/e2e
npx --no-install playwright test
