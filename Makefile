# The two commands the README promises, plus the pieces they are made of.
.PHONY: demo test setup wasm bundle train instacart instacart-channel instacart-report publish-demo package bench bench-cold bench-peers bench-scan bench-shards

# The training pipeline's Python, installed first where it is missing (seconds once it is there).
PYTHON = scripts/setup.sh python >/dev/null && .venv/bin/python
# The benchmarks' Chromium and npm packages, and the release wasm, built or brought up to date first.
BROWSER = scripts/setup.sh browser >/dev/null && scripts/build-wasm.sh >/dev/null &&

demo:      ## build the wasm and serve the demo shop on http://127.0.0.1:8080/demo/ [SHOP=instacart: the grocery shop]
	SHOP=$(or $(SHOP),ml-100k) scripts/demo.sh

test:      ## install what is missing, run every test, print a summary
	scripts/test.sh

setup:     ## install toolchains, Chromium, Python deps (idempotent)
	scripts/setup.sh

wasm:      ## release wasm + JS bindings into www/pkg
	scripts/build-wasm.sh

bundle:    ## build a bundle from MovieLens-100K into build/bundles/ml-100k (publish it with models/publish.py)
	$(PYTHON) -m models.build_bundle --out build/bundles/ml-100k --version $(or $(VERSION),dev) --include-known-users

train:     ## a bundle from your own data: make train CATALOG=c.csv EVENTS=e.csv OUT=build/bundles/shop [VERSION=v] [ARGS=...]
	@test -n "$(CATALOG)" -a -n "$(EVENTS)" -a -n "$(OUT)" || { echo "usage: make train CATALOG=catalog.csv EVENTS=events.csv OUT=build/bundles/shop [VERSION=v] [ARGS='--next-up-epochs 5']" >&2; exit 2; }
	$(PYTHON) -m models.train --catalog "$(CATALOG)" --events "$(EVENTS)" --out "$(OUT)" $(if $(VERSION),--version "$(VERSION)") $(ARGS)

instacart: ## the Instacart sample (../shared/data) in the input format, into build/instacart [REPLICATE=N]
	$(PYTHON) -m models.instacart --out build/instacart$(if $(REPLICATE),-$(REPLICATE)x) --replicate $(or $(REPLICATE),1)

instacart-channel: ## the grocery channel from the Instacart sample into www/channels/instacart [DATA=../shared/data]
	scripts/instacart.sh channel

instacart-report: ## every model and the item-kNN, EASE and popularity baselines on each Instacart shopper's held-out last order (edgerec eval)
	scripts/instacart.sh report

publish-demo: ## train a new version and publish it to the running demo's channel; it swaps live
	scripts/publish-demo.sh

package:   ## the npm package tarball in dist/
	scripts/build-package.sh

bench:     ## per-call latency, native vs wasm in Chromium [BUNDLE=channels/instacart/versions/<v>/: in Chromium only]
	$(BROWSER) node tests/e2e/bench.mjs

bench-scan: ## the kernel's scan + top-10 at 1M and 100k × 64 in Chromium: int8 vs f32 vs plain JS [ROUNDS=15]
	$(BROWSER) node tests/e2e/bench-scan.mjs

bench-cold: ## cold start to the first answers in Chromium: staged load vs one stage [ROUNDS=7]
	$(BROWSER) node tests/e2e/bench-cold.mjs

bench-peers: ## next up and similar: edgerec against onnxruntime-web 1.30 and plain JS at 1.7k, ~50k and 1M items (builds the synthetic catalogs once) [ROUNDS=5] [CHANNEL=...]
	$(BROWSER) true
	$(if $(CHANNEL)$(wildcard www/channels/instacart/latest.json),,$(PYTHON) -m models.synthetic --items 50000 --channel build/channels/synthetic-50k)
	$(if $(CHANNEL),,$(PYTHON) -m models.synthetic --items 1000000 --channel build/channels/synthetic-1m)
	cmp -s benches/peers/package-lock.json benches/peers/node_modules/.installed-lock 2>/dev/null || \
	  { npm ci --prefix benches/peers --no-audit --no-fund && cp benches/peers/package-lock.json benches/peers/node_modules/.installed-lock; }
	node tests/e2e/bench-peers.mjs

bench-shards: ## one version split across Workers against one Worker at 1M items: latency, throughput, memory (builds the synthetic catalog once) [WORKERS=2] [ROUNDS=3] [CHANNEL=...]
	$(BROWSER) true
	$(if $(CHANNEL),,$(PYTHON) -m models.synthetic --items 1000000 --channel build/channels/synthetic-1m)
	node tests/e2e/bench-shards.mjs
