#!/usr/bin/env bash
# One command for the demo: installs what is missing, builds the wasm, serves
# www/ on localhost and prints the URL. Ctrl-C stops it.
#
#   scripts/demo.sh                  the movie shop on the committed MovieLens channel
#   SHOP=instacart scripts/demo.sh   the grocery shop; builds its channel first if there is none
#                                    (scripts/instacart.sh channel: about a minute, needs ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-8080}
shop=${SHOP:-ml-100k}

case "$shop" in
  ml-100k) query= ;;
  instacart) query="?shop=instacart" ;;
  *) echo "demo: unknown SHOP=$shop (ml-100k or instacart)" >&2; exit 2 ;;
esac

scripts/setup.sh build
scripts/build-wasm.sh
if [ "$shop" = instacart ] && [ ! -f www/channels/instacart/latest.json ]; then
  scripts/instacart.sh channel
fi
echo
echo "edgerec demo: http://127.0.0.1:${port}/demo/${query}"
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory www
