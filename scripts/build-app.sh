#!/usr/bin/env bash
# Builds the app into dist/ with Trunk, using binaryen's wasm-opt from tests/e2e/node_modules.
#   scripts/build-app.sh            the production app, into dist/ (what `alleycat serve` serves)
#   scripts/build-app.sh --bench    the same app with the benchmark's probes (cargo feature
#                                   `bench`), into dist-bench/ (BENCHMARKS.md, App)
# Other arguments go to `trunk build`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/tests/e2e/node_modules/.bin:$PATH"
export TRUNK_SKIP_VERSION_CHECK=true
dist=dist
args=()
for arg in "$@"; do
  if [[ "$arg" == --bench ]]; then
    dist=dist-bench
    args+=(--features bench --dist dist-bench)
  else
    args+=("$arg")
  fi
done
printf '\033[1m==> %s\033[0m\n' "Building the app into $dist/ (trunk build --release ${args[*]})"
trunk build --release "${args[@]}"
# Precompressed siblings, served by `alleycat serve` to browsers that accept gzip.
find "$dist" -maxdepth 1 -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.svg' \) -exec gzip -9 -k -f -n {} +
