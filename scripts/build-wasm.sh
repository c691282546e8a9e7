#!/usr/bin/env bash
# Builds the wasm engine and its JS bindings: the full build (with the next-up
# encoder, tract) into www/pkg and the core build (without it, what a page
# loads first) into www/pkg-core. Also copies the
# committed default channel (models/channel/ml-100k) to www/channels so the
# pages can fetch it. The copy is what the demo's publish command writes to.
#
#   scripts/build-wasm.sh         release build (what the demo and the package ship)
#   scripts/build-wasm.sh --dev   unoptimised build, reusing the wasm tests' artifacts
#                                 (the end-to-end tests; saves a long LTO build)
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
[ "${1:-}" = --dev ] && profile=debug

started=$(date +%s)
flags=(--lib --target wasm32-unknown-unknown)
bindgen=(--target web)
# What ships carries no function names (1.5 MB of the full build) or tool versions:
# a panic's message comes from the panic hook, not from names.
[ "$profile" = release ] && flags+=(--release) && bindgen+=(--remove-name-section --remove-producers-section)
out=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown
cargo build "${flags[@]}"
wasm-bindgen "${bindgen[@]}" --out-dir www/pkg "$out/$profile/edgerec.wasm"
# The release core build has a profile of its own (Cargo.toml: dependencies
# optimised for size); the dev one shares the full build's path, so each is
# bound right after it is built.
core_flags=("${flags[@]/--release/--profile=core}")
core_profile=$profile
[ "$profile" = release ] && core_profile=core
cargo build "${core_flags[@]}" --no-default-features
wasm-bindgen "${bindgen[@]}" --out-dir www/pkg-core "$out/$core_profile/edgerec.wasm"

# Versions are immutable, so existing ones are kept as they are, and so is a
# pointer the demo's publish command moved.
mkdir -p www/channels/ml-100k/versions
for version in models/channel/ml-100k/versions/*/; do
  target=www/channels/ml-100k/versions/$(basename "$version")
  [ -e "$target" ] || cp -r "$version" "$target"
done
[ -f www/channels/ml-100k/latest.json ] || cp models/channel/ml-100k/latest.json www/channels/ml-100k/

for pkg in www/pkg www/pkg-core; do
  echo "build-wasm ($profile): $pkg/edgerec_bg.wasm $(stat -c %s $pkg/edgerec_bg.wasm) bytes" \
    "($(gzip -9 -c $pkg/edgerec_bg.wasm | wc -c) gzipped)"
done
echo "build-wasm ($profile): $(( $(date +%s) - started )) s"
