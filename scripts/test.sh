#!/usr/bin/env bash
# Runs every test: installs what is missing, then lint, native tests, wasm
# tests in headless Chromium, the training pipeline, the demo shop, the live
# update tests and the npm package in a bundler project.
# Exits non-zero if any step fails; always prints a summary.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh || { echo "setup failed"; exit 1; }

results=()
failed=0
suite_started=$(date +%s)

run() {
  local name=$1; shift
  printf '\n==== %s\n' "$name"
  local started=$(date +%s)
  if "$@"; then
    results+=("PASS  $(printf '%-34s' "$name") $(( $(date +%s) - started )) s")
  else
    results+=("FAIL  $(printf '%-34s' "$name") $(( $(date +%s) - started )) s")
    failed=1
  fi
}

pipeline_rebuilds_a_valid_bundle() {
  local out
  out=$(mktemp -d)
  # Two LSTM epochs are enough to exercise training, export and the
  # onnxruntime parity cases; the committed bundle is trained to convergence.
  .venv/bin/python -m models.build_bundle --out "$out/ml-100k" --version pipeline-check \
    --next-up-epochs 2 \
    && cargo run --quiet --bin edgerec -- verify "$out/ml-100k"
  local status=$?
  rm -rf "$out"
  return $status
}

run "rustfmt" cargo fmt --check
run "clippy (native)" cargo clippy --all-targets -- -D warnings
run "clippy (wasm32)" cargo clippy --all-targets --target wasm32-unknown-unknown -- -D warnings
run "native tests" cargo test
run "wasm tests: page + worker (Chromium)" cargo test --target wasm32-unknown-unknown --test web --test worker
run "pipeline: rebuild + verify bundle" pipeline_rebuilds_a_valid_bundle
# One unoptimised wasm build (reusing the wasm tests' artifacts) serves the
# demo, the update tests and the packed tarball.
run "wasm build + npm pack for the e2e tests" scripts/build-package.sh --dev
run "demo shop in Chromium" node tests/e2e/demo-smoke.mjs
run "live updates in Chromium" node tests/e2e/updates.mjs
run "npm package: Vite project + plain page" node tests/e2e/package.mjs

printf '\n==== summary\n'
printf '%s\n' "${results[@]}"
echo "total $(( $(date +%s) - suite_started )) s"
if [ "$failed" = 0 ]; then echo "ALL PASSED"; else echo "SOME FAILED"; fi
exit $failed
