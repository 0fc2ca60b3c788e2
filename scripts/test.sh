#!/usr/bin/env bash
# Sets everything up and runs every test: formatting, clippy, the Rust tests, and the
# Playwright suite in Chromium against the real server. The Rust tests run under cargo-nextest
# with a time limit per test (.config/nextest.toml): a test that hangs fails with its name.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

scripts/setup.sh

step "Formatting (cargo fmt --check)"
cargo fmt --all --check

step "Clippy, native crates (-D warnings)"
cargo clippy --workspace --exclude alleycat-app --all-targets --locked -- -D warnings
step "Clippy, the app for wasm32, every target (-D warnings)"
cargo clippy -p alleycat-app --target wasm32-unknown-unknown --all-targets --locked -- -D warnings

# The binaries first: the command-line tests (tests/tests/cli.rs) and the browser tests run them,
# and a test run builds only the binaries of packages that have tests of their own.
step "Server and load generator binaries"
cargo build -p alleycat-server -p alleycat-sim --locked

step "Rust tests (cargo-nextest, a time limit per test)"
cargo nextest run --workspace --exclude alleycat-app --locked
step "The app's pure logic, natively"
cargo nextest run -p alleycat-app --locked
step "Doc-tests (nextest does not run them)"
cargo test --workspace --doc --locked

# The clock row ran with the Rust tests.
step "Fault matrix, short (scripts/faults.sh --short); fails on any loss"
scripts/faults.sh --short disk-full s3 sigkill reshard-kill postgres nats

scripts/build-app.sh

step "Playwright in Chromium"
cd tests/e2e
# CI=true: a test.only left behind fails the run (forbidOnly) instead of skipping the rest.
CI=true npx --no-install playwright test
