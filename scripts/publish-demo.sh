#!/usr/bin/env bash
# Publishes a new model version to the channel the running demo reads
# (www/channels/ml-100k), so an open shop page swaps to it live.
#
#   scripts/publish-demo.sh             train a new version (SVD + a short LSTM run, about a minute) and publish it
#   scripts/publish-demo.sh --point 1   point the channel back at an already published version
set -euo pipefail
cd "$(dirname "$0")/.."
channel=www/channels/ml-100k
[ -f "$channel/latest.json" ] || { echo "no demo channel at $channel: run 'make demo' first" >&2; exit 1; }
# The training pipeline's Python environment: installed on the first run (a few minutes), then seconds.
scripts/setup.sh python >/dev/null

if [ "${1:-}" = --point ]; then
  exec .venv/bin/python -m models.publish --channel "$channel" --point "${2:?--point needs a version}"
fi

# The next version number after the highest published one.
last=$(ls "$channel/versions" | { grep -E '^[0-9]+$' || true; } | sort -n | tail -1)
version=$(( ${last:-0} + 1 ))
out=build/demo-versions/$version
rm -rf "$out"
.venv/bin/python -m models.build_bundle --out "$out" --version "$version" --seed "$version" \
  --embedding-dim $(( 32 + 8 * (version % 5) )) --next-up-epochs 4
.venv/bin/python -m models.publish --channel "$channel" "$out"
echo "open pages swap to version $version within a few seconds"
