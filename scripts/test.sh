#!/usr/bin/env bash
# Runs every test: installs what is missing, then lint, native tests, wasm
# tests in headless Chromium, JS and Python unit tests, the training pipeline,
# then the release wasm (what ships) under the demo shop, the live update
# tests, the hostile-bundle tests and the npm package in a bundler project.
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
  # Then the bundle is published signed by a fresh key (Python) and the Rust
  # engine verifies that signature; a second key alone must not verify it.
  .venv/bin/python -m models.build_bundle --out "$out/ml-100k" --version pipeline-check \
    --next-up-epochs 2 \
    && cargo run --quiet --bin edgerec -- verify "$out/ml-100k" \
    && .venv/bin/python -m models.keys generate --out "$out/keys" \
    && .venv/bin/python -m models.keys generate --out "$out/other-keys" \
    && .venv/bin/python -m models.publish --channel "$out/channel" --sign-key "$out/keys/edgerec-signing.key" \
      "$out/ml-100k" \
    && cargo run --quiet --bin edgerec -- verify "$out/channel/versions/pipeline-check" \
      --public-key "$out/keys/edgerec-signing.pub" \
    && ! cargo run --quiet --bin edgerec -- verify "$out/channel/versions/pipeline-check" \
      --public-key "$out/other-keys/edgerec-signing.pub"
  local status=$?
  rm -rf "$out"
  return $status
}

# `wasm-pack build --target web` (the release build above, cached) gives a
# package that loads the committed bundle and answers, in Node.
wasm_pack_builds_a_working_package() {
  local out status
  out=$(mktemp -d)
  wasm-pack build --target web --out-dir "$out/pkg" && node tests/e2e/wasm-pack-package.mjs "$out/pkg"
  status=$?
  rm -rf "$out"
  return $status
}

run "rustfmt" cargo fmt --check
run "clippy (native)" cargo clippy --all-targets -- -D warnings
run "clippy (wasm32)" cargo clippy --all-targets --target wasm32-unknown-unknown -- -D warnings
run "clippy (core build, wasm32)" cargo clippy --lib --no-default-features --target wasm32-unknown-unknown -- -D warnings
run "native tests" cargo test
run "native tests: core build (no tract)" cargo test --no-default-features --test core_build
run "wasm tests: page + worker (wasm-pack, Chromium)" \
  wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver -- --test web --test worker
run "JS unit tests (node --test)" node --test tests/js/
run "Python unit tests" .venv/bin/python -m unittest discover -s models/tests -t .
run "pipeline: rebuild + verify bundle" pipeline_rebuilds_a_valid_bundle
# The end-to-end suites test what ships: one release (LTO) wasm build, packed
# once, serves the demo, the update tests and the packed tarball.
run "release wasm build + npm pack" scripts/build-package.sh
run "wasm-pack build --target web: a working package" wasm_pack_builds_a_working_package
run "demo shop in Chromium" node tests/e2e/demo-smoke.mjs
run "grocery demo shop (Instacart channel) in Chromium" node tests/e2e/demo-grocery.mjs
run "live updates in Chromium" node tests/e2e/updates.mjs
run "hostile channels in Chromium" node tests/e2e/hostile-channel.mjs
run "hostile bundles and calls in Chromium" node tests/e2e/hostile-page.mjs
run "a shop's own data: train, publish, serve in Chromium" node tests/e2e/own-data.mjs
run "a version split across Workers, against one Worker, in Chromium" node tests/e2e/shards.mjs
run "npm package: channel CLI, Vite, React, Vue, webpack, esbuild, plain page, another origin" node tests/e2e/package.mjs

printf '\n==== summary\n'
printf '%s\n' "${results[@]}"
echo "total $(( $(date +%s) - suite_started )) s"
if [ "$failed" = 0 ]; then echo "ALL PASSED"; else echo "SOME FAILED"; fi
exit $failed
