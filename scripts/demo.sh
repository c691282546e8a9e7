#!/usr/bin/env bash
# One command for the demo: installs what is missing, builds the wasm, serves
# www/ on localhost and prints the URL. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-8080}

scripts/setup.sh build
scripts/build-wasm.sh
echo
echo "edgerec demo: http://127.0.0.1:${port}/demo/"
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory www
