#!/usr/bin/env bash
# Installs, idempotently and only from the package registries, every tool the
# build, the demo and the tests need. Safe to run again: each step checks first.
#
#   scripts/setup.sh          everything (build, browser tests, training)
#   scripts/setup.sh build    only what building the wasm needs (the demo)
#   scripts/setup.sh python   that, and the Python environment (training without Spark)
#   scripts/setup.sh browser  the build tools, Chromium and the npm packages (the benchmarks)
set -euo pipefail
cd "$(dirname "$0")/.."
scope=${1:-all}

step() { printf '\n== setup: %s\n' "$*"; }

step "rust target wasm32-unknown-unknown"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly,
# otherwise the generated JS glue and the wasm disagree.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
step "wasm-bindgen-cli $bindgen_version"
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_version" ]; then
  cargo install wasm-bindgen-cli --version "$bindgen_version" --force
fi

chromium_and_driver() {
  step "chromium + chromedriver (Debian)"
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -q
    $sudo apt-get install -y -q chromium chromium-driver
  fi
}

npm_packages() {
  step "npm packages for the end-to-end tests (playwright-core drives Debian's Chromium)"
  if ! cmp -s package-lock.json node_modules/.installed-lock 2>/dev/null; then
    npm ci --no-audit --no-fund
    cp package-lock.json node_modules/.installed-lock
  fi
}

if [ "$scope" = build ]; then
  echo "setup: build tools ready"
  exit 0
fi
if [ "$scope" = browser ]; then
  chromium_and_driver
  npm_packages
  echo "setup: build tools, Chromium and the npm packages ready"
  exit 0
fi

step "python environment (.venv) for the training pipeline"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! cmp -s models/requirements.txt .venv/.installed-requirements 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check -r models/requirements.txt
  cp models/requirements.txt .venv/.installed-requirements
fi

if [ "$scope" = python ]; then
  echo "setup: build tools and the Python environment ready"
  exit 0
fi

chromium_and_driver

# `--engine spark` (models/spark_factors.py): Spark 4 runs on Java 17, which
# Debian 12 ships; pyspark is a ~450 MB package, installed once (the stamp
# file below skips it while models/requirements-spark.txt is unchanged).
step "java runtime for Spark (Debian openjdk-17-jre-headless)"
java_major=$(java -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print v[1]; exit }' || true)
if [ "${java_major:-0}" -lt 17 ] 2>/dev/null || ! command -v java >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends openjdk-17-jre-headless
fi

step "pyspark (models/requirements-spark.txt)"
if ! cmp -s models/requirements-spark.txt .venv/.installed-requirements-spark 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check -r models/requirements-spark.txt
  cp models/requirements-spark.txt .venv/.installed-requirements-spark
fi

# wasm-pack runs the crate's browser tests (with Debian's chromedriver, named on
# its command line, and the wasm-bindgen above: it downloads neither).
wasm_pack_version=0.15.1
step "wasm-pack $wasm_pack_version"
if [ "$(wasm-pack --version 2>/dev/null | awk '{print $2}')" != "$wasm_pack_version" ]; then
  cargo install wasm-pack --version "$wasm_pack_version" --locked --force
fi

npm_packages

echo
echo "setup: done"
