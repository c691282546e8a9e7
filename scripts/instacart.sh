#!/usr/bin/env bash
# The grocery channel and its quality report, from the Instacart sample in
# ../shared/data/instacart (or DATA=/path/to/data). Nothing built here is
# committed: the data's terms allow non-commercial use only.
#
#   scripts/instacart.sh channel   convert, train (about a minute on 2 cores) and publish to
#                                  www/channels/instacart, which `make demo SHOP=instacart` serves
#   scripts/instacart.sh report    hold out each shopper's last order, train on the rest, and score
#                                  next up, for you, similar and the baselines on those orders (`edgerec eval`)
#
# TRAIN_ARGS adds options to the training command (e.g. TRAIN_ARGS='--next-up-epochs 1');
# CHANNEL and BUNDLE move the channel and the bundle elsewhere (the tests use a throwaway one).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${DATA:-../shared/data}
what=${1:-channel}
python=.venv/bin/python

[ -f "$data/instacart/products.csv" ] || {
  echo "instacart: no $data/instacart/products.csv (set DATA=/path/to/data; see ../shared/data/README.md)" >&2
  exit 1
}
scripts/setup.sh python >/dev/null
[ -f build/instacart/events.csv ] || $python -m models.instacart --data "$data" --out build/instacart

case "$what" in
  channel)
    channel=${CHANNEL:-www/channels/instacart}
    bundle=${BUNDLE:-build/bundles/instacart}
    version=$(date -u +%Y%m%d-%H%M%S)
    rm -rf "$bundle"
    # shellcheck disable=SC2086  # TRAIN_ARGS is a list of options
    $python -m models.train --catalog build/instacart/catalog.csv --events build/instacart/events.csv \
      --out "$bundle" --name instacart --version "$version" ${TRAIN_ARGS:-}
    $python -m models.publish --channel "$channel" "$bundle"
    echo "instacart: version $version published to $channel; serve it with: make demo SHOP=instacart"
    ;;
  report)
    $python -m models.holdout --catalog build/instacart/catalog.csv --events build/instacart/events.csv \
      --out build/instacart-eval
    rm -rf build/bundles/instacart-eval
    # shellcheck disable=SC2086
    $python -m models.train --catalog build/instacart/catalog.csv --events build/instacart-eval/train-events.csv \
      --out build/bundles/instacart-eval --name instacart-eval --version holdout ${TRAIN_ARGS:-}
    cargo build --profile tools --bin edgerec
    target/tools/edgerec eval build/bundles/instacart-eval build/instacart-eval/last-basket.txt \
      | tee build/instacart-eval/report.md
    echo "instacart: report in build/instacart-eval/report.md"
    ;;
  *)
    echo "usage: scripts/instacart.sh channel|report" >&2
    exit 2
    ;;
esac
