#!/usr/bin/env bash
# Builds the app into dist/ with Trunk, using binaryen's wasm-opt from tests/e2e/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/tests/e2e/node_modules/.bin:$PATH"
export TRUNK_SKIP_VERSION_CHECK=true
printf '\033[1m==> %s\033[0m\n' "Building the app (trunk build --release)"
trunk build --release "$@"
# Precompressed siblings, served by `alleycat serve` to browsers that accept gzip.
find dist -maxdepth 1 -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.svg' \) -exec gzip -9 -k -f -n {} +
