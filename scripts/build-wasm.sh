#!/usr/bin/env bash
# Builds the wasm engine and its JS bindings into www/pkg, and copies the
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
if [ "$profile" = release ]; then
  cargo build --release --lib --target wasm32-unknown-unknown
else
  cargo build --lib --target wasm32-unknown-unknown
fi
wasm=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/$profile/edgerec.wasm
wasm-bindgen --target web --out-dir www/pkg "$wasm"

# Versions are immutable, so existing ones are kept as they are, and so is a
# pointer the demo's publish command moved.
mkdir -p www/channels/ml-100k/versions
for version in models/channel/ml-100k/versions/*/; do
  target=www/channels/ml-100k/versions/$(basename "$version")
  [ -e "$target" ] || cp -r "$version" "$target"
done
[ -f www/channels/ml-100k/latest.json ] || cp models/channel/ml-100k/latest.json www/channels/ml-100k/

raw=$(stat -c %s www/pkg/edgerec_bg.wasm)
gz=$(gzip -9 -c www/pkg/edgerec_bg.wasm | wc -c)
echo "build-wasm ($profile): www/pkg/edgerec_bg.wasm ${raw} bytes (${gz} gzipped), $(( $(date +%s) - started )) s"
