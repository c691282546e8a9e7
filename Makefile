# The two commands the README promises, plus the pieces they are made of.
.PHONY: demo test setup wasm bundle publish-demo package bench

demo:      ## build the wasm and serve the demo shop on http://127.0.0.1:8080/demo/
	scripts/demo.sh

test:      ## install what is missing, run every test, print a summary
	scripts/test.sh

setup:     ## install toolchains, Chromium, Python deps (idempotent)
	scripts/setup.sh

wasm:      ## release wasm + JS bindings into www/pkg
	scripts/build-wasm.sh

bundle:    ## build a bundle from MovieLens-100K into build/bundles/ml-100k (publish it with models/publish.py)
	.venv/bin/python -m models.build_bundle --out build/bundles/ml-100k --version $(or $(VERSION),dev)

publish-demo: ## train a new version and publish it to the running demo's channel; it swaps live
	scripts/publish-demo.sh

package:   ## the npm package tarball in dist/
	scripts/build-package.sh

bench:     ## per-call latency, native vs wasm in Chromium (needs `make wasm` first)
	node tests/e2e/bench.mjs
