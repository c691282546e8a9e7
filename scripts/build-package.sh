#!/usr/bin/env bash
# Builds the npm package `edgerec` (www/package.json): the wasm engine and its
# bindings (scripts/build-wasm.sh), then `npm pack` into dist/. Prints the
# tarball's path, its size and the gzipped size of the wasm inside it.
#
#   scripts/build-package.sh         release wasm (what gets published)
#   scripts/build-package.sh --dev   unoptimised wasm (the end-to-end tests; fast)
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  '') scripts/build-wasm.sh ;;
  --dev) scripts/build-wasm.sh --dev ;;
  *) echo "usage: $0 [--dev]" >&2; exit 2 ;;
esac

mkdir -p dist
version=$(node -p "require('./www/package.json').version")
tarball=dist/edgerec-$version.tgz
rm -f "$tarball"
# The docs ship in the package (www/docs is a copy made for packing, not kept).
rm -rf www/docs && cp -r docs www/docs
trap 'rm -rf www/docs' EXIT
# --ignore-scripts: the package has no lifecycle scripts, and packing must not run any.
(cd www && npm pack --silent --ignore-scripts --pack-destination ../dist >/dev/null)
[ -f "$tarball" ] || { echo "build-package: npm pack did not write $tarball" >&2; exit 1; }

# What went in, and nothing that should not have.
listing=$(tar -tzf "$tarball")
for needed in edgerec.js edgerec.d.ts edgerec-sw.js edgerec-sw.d.ts lib/engine-worker.js \
  pkg/edgerec.js pkg/edgerec_bg.wasm pkg/edgerec.d.ts pkg-core/edgerec.js pkg-core/edgerec_bg.wasm \
  README.md CHANGELOG.md docs/api.md bin/edgerec.js package.json; do
  grep -qx "package/$needed" <<<"$listing" || { echo "build-package: $needed missing from $tarball" >&2; exit 1; }
done
if grep -E '^package/(demo|bench|channels|bundles)/|^package/index\.html$' <<<"$listing"; then
  echo "build-package: files that do not belong in the package (above)" >&2
  exit 1
fi

size=$(stat -c %s "$tarball")
echo "build-package: $(pwd)/$tarball"
echo "build-package: tarball $size bytes ($(wc -l <<<"$listing") files)"
for pkg in pkg-core pkg; do
  echo "build-package: $pkg/edgerec_bg.wasm $(tar -xzOf "$tarball" package/$pkg/edgerec_bg.wasm | wc -c) bytes," \
    "$(tar -xzOf "$tarball" package/$pkg/edgerec_bg.wasm | gzip -9 | wc -c) gzipped (gzip -9)"
done
