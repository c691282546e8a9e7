#!/usr/bin/env bash
# Builds the wasm engine (release) and its JS bindings into www/pkg, and
# copies the committed default bundle to www/bundles so the page can fetch it.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
cargo build --release --lib --target wasm32-unknown-unknown
wasm=target/wasm32-unknown-unknown/release/edgerec.wasm
wasm-bindgen --target web --out-dir www/pkg "$wasm"

rm -rf www/bundles
mkdir -p www/bundles
cp -r models/bundles/ml-100k www/bundles/ml-100k

raw=$(stat -c %s www/pkg/edgerec_bg.wasm)
gz=$(gzip -9 -c www/pkg/edgerec_bg.wasm | wc -c)
echo "build-wasm: www/pkg/edgerec_bg.wasm ${raw} bytes (${gz} gzipped), $(( $(date +%s) - started )) s"
