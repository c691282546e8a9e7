"""`--engine spark` (Spark MLlib ALS, local mode) against the local engine.

Run: python -m unittest models.tests.test_spark   (about 2 minutes on 2 cores)

On the committed example (models/examples/) and, when ../shared/data/instacart
is there, on the Instacart sample (converted by `python -m models.instacart`):
the training command is run once with each engine (Spark through spark-submit
and scripts/spark-train.py for the example, as on a cluster, and by
`--engine spark` for Instacart); both bundles must load
and pass their parity cases in the Rust engine (`edgerec verify`), and their
"for you" answers must overlap. The answers compared are what the engine
serves a signed-in shopper: fold-in top 10 from the shopper's own history
(distinct products, newest 50, as the page keeps it), computed by the numpy
reference (models/factors.py) from each bundle's item factors and λ, for up
to 200 shoppers. The test prints the mean overlap@10 (|A ∩ B| / 10).

Skipped, with the reason, when pyspark or a Java runtime is missing;
scripts/setup.sh installs both, so CI runs it. `edgerec verify` needs the
native binary (target/debug/edgerec, built by `cargo test`; EDGEREC_BIN names
another); without it that check is skipped with a message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import numpy as np

from models import bundle as model_bundle
from models import data, factors, spark_factors

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "models" / "examples"
SHARED_DATA = ROOT.parent / "shared" / "data"
ENGINE = Path(os.environ.get("EDGEREC_BIN", ROOT / "target" / "debug" / "edgerec"))

SHOPPERS = 200
HISTORY_LIMIT = 50
K = 10
# Floor for the Instacart sample: measured 0.68 against the local default (ALS,
# its alpha and λ chosen on held-out baskets) and 0.50 against local SVD, each
# bundle with its own λ. Random factors give 0.00 against either, and plain
# popularity shares about 0.30-0.36 of its top 10 with each engine, so two
# engines that had only learnt "popular" would sit near 0.3. 0.35 asks for
# agreement beyond popularity, with room for noise and for defaults to move.
INSTACART_FLOOR = 0.35
# The example has 30 products: with a history excluded, a top 10 of the 20 or
# so left overlaps heavily by chance (random factors: 0.38, measured 0.54 for
# the engines), so there the test asks for clearly more than random factors
# get on the same histories.
EXAMPLE_MARGIN = 0.1


def load_factors(bundle: Path) -> tuple[np.ndarray, float]:
    manifest = json.loads((bundle / "manifest.json").read_text())
    spec = manifest["models"]["factors"]["items"]
    matrix = model_bundle.read_item_matrix(bundle, spec)
    return matrix, float(manifest["models"]["factors"]["fold_in_lambda"])


def page_histories(catalog_path: Path, events_path: Path, count: int, seed: int = 0) -> list[list[int]]:
    """Up to `count` shoppers' histories as the page holds them: distinct items by last
    occurrence, newest HISTORY_LIMIT, oldest first."""
    catalog = data.read_catalog(catalog_path, log=lambda _: None)
    events = data.read_events(events_path, catalog, log=lambda _: None)
    sequences = [s for s in events.sequences() if len(s)]
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(len(sequences), min(count, len(sequences)), replace=False))
    histories = []
    for row in picked:
        newest_first = sequences[row][::-1]
        _, first = np.unique(newest_first, return_index=True)
        histories.append([int(i) for i in newest_first[np.sort(first)][:HISTORY_LIMIT][::-1]])
    return histories


def for_you(item_factors: np.ndarray, lam: float, histories) -> list[set[int]]:
    return [{item for item, _ in factors.for_history(item_factors, h, lam, K)} for h in histories]


def mean_overlap(a: list[set[int]], b: list[set[int]]) -> float:
    return float(np.mean([len(x & y) / K for x, y in zip(a, b)]))


def random_factors(like: np.ndarray, seed: int = 1) -> np.ndarray:
    """Random factors of `like`'s shape and scale: what the floor must rule out."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(like.shape) * like.std()).astype(np.float32)


@unittest.skipIf(spark_factors.available() is not None, f"--engine spark: {spark_factors.available()}")
class SparkAgainstLocalTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="edgerec-test-spark-"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def train(self, catalog: Path, events: Path, out: Path, engine: str, *extra: str) -> float:
        """`python -m models.train --engine local|spark`, or with engine "spark-submit" the
        launcher a cluster uses (scripts/spark-train.py), here with a local master."""
        started = time.perf_counter()
        # A fixed content blend: choosing it refits the factors, which says nothing more here.
        args = ["--catalog", str(catalog), "--events", str(events), "--out", str(out), "--no-next-up",
                "--content-blend", "0.9", "--version", "test", *extra]
        env = dict(os.environ)
        if engine == "spark-submit":
            bin_dir = Path(sys.executable).parent
            env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", PYSPARK_PYTHON=sys.executable,
                       PYSPARK_DRIVER_PYTHON=sys.executable)
            command = [str(bin_dir / "spark-submit"), "--master", "local[2]", "--driver-memory", "1g",
                       str(ROOT / "scripts" / "spark-train.py"), *args]
        else:
            command = [sys.executable, "-m", "models.train", "--engine", engine, *args]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        self.assertEqual(result.returncode, 0, f"{engine}:\n{result.stdout}\n{result.stderr}")
        if engine != "local":
            self.assertIn("spark: ALS rank", result.stdout)
        return time.perf_counter() - started

    def verify(self, bundle: Path) -> None:
        if not ENGINE.is_file():
            print(f"\n  (skipped: `edgerec verify {bundle.name}`: {ENGINE} is not built; `cargo build` builds it)")
            return
        result = subprocess.run([str(ENGINE), "verify", str(bundle)], capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr + result.stdout)
        self.assertIn("parity cases passed", result.stdout)

    def compare(self, name: str, catalog: Path, events: Path, *extra: str, spark: str = "spark"):
        """Trains with both engines, verifies both; returns (overlap, random overlap, local, spark)."""
        times = {}
        bundles = {}
        for engine, how in (("local", "local"), ("spark", spark)):
            bundles[engine] = self.tmp / f"{name}-{engine}"
            times[engine] = self.train(catalog, events, bundles[engine], how, *extra)
            self.verify(bundles[engine])
        local, spark = load_factors(bundles["local"]), load_factors(bundles["spark"])
        self.assertEqual(local[0].shape[0], spark[0].shape[0])
        self.assertTrue(np.isfinite(spark[0]).all())
        histories = page_histories(catalog, events, SHOPPERS)
        local_top = for_you(*local, histories)
        overlap = mean_overlap(local_top, for_you(*spark, histories))
        few = histories[:50]
        chance = mean_overlap(local_top[:50], for_you(random_factors(local[0]), local[1], few))
        print(f"\n  {name}: for-you overlap@{K} local vs spark {overlap:.3f} over {len(histories)} shoppers "
              f"(random factors {chance:.3f}); training local {times['local']:.0f} s, "
              f"spark {times['spark']:.0f} s")
        return overlap, chance, local, spark

    def test_example(self):
        # Spark through spark-submit here (the cluster route, master local[2]);
        # the Instacart test runs `--engine spark` directly.
        overlap, chance, _, spark = self.compare(
            "example", EXAMPLES / "catalog.csv", EXAMPLES / "events.csv", "--fold-in-lambda", "1",
            spark="spark-submit")
        # Every product of the example has events: none is left with a zero row.
        self.assertTrue((np.abs(spark[0]).sum(axis=1) > 0).all())
        self.assertGreaterEqual(overlap, chance + EXAMPLE_MARGIN)

    def test_instacart_sample(self):
        if not (SHARED_DATA / "instacart" / "orders_sample.csv").is_file():
            self.skipTest(f"no Instacart sample at {SHARED_DATA / 'instacart'}")
        converted = self.tmp / "instacart"
        result = subprocess.run([sys.executable, "-m", "models.instacart", "--data", str(SHARED_DATA),
                                 "--out", str(converted)], cwd=ROOT, capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        overlap, chance, _, spark = self.compare("instacart", converted / "catalog.csv", converted / "events.csv")
        # Products no order mentions get zero rows from Spark.
        self.assertTrue((np.abs(spark[0]).sum(axis=1) == 0).any())
        self.assertLess(chance, INSTACART_FLOOR)
        self.assertGreaterEqual(overlap, INSTACART_FLOOR)


if __name__ == "__main__":
    unittest.main()
