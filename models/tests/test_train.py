"""The training command (models/train.py) on the worked example, end to end.

Run: python -m unittest discover -s models/tests -t .
The engine's check (`edgerec verify`) runs when the native binary is built
(target/debug/edgerec, by `cargo build` or `cargo test`; EDGEREC_BIN names
another); without it that part is skipped with a message.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np

from models import data, next_up, train

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "models" / "examples"
ENGINE = Path(os.environ.get("EDGEREC_BIN", ROOT / "target" / "debug" / "edgerec"))
FAST = ["--next-up-epochs", "2", "--next-up-max-len", "8", "--next-up-dim", "16", "--version", "test"]


def run_train(*args: str) -> tuple[int, str]:
    """Runs the command in-process; returns (exit status, everything it printed)."""
    out = io.StringIO()
    status = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            train.main(list(args))
        except SystemExit as exit:
            status = exit.code if isinstance(exit.code, int) else 1
            print(exit.code)
    return status, out.getvalue()


def example_shoppers() -> set[str]:
    """Every user and session id of the example's events."""
    ids = set()
    for line in (EXAMPLES / "events.jsonl").read_text().splitlines():
        record = json.loads(line)
        ids.update(v for k, v in record.items() if k in ("user", "session"))
    return ids


def verify(test: unittest.TestCase, bundle: Path) -> None:
    if not ENGINE.is_file():
        print(f"\n  (skipped: `edgerec verify {bundle.name}`: {ENGINE} is not built; `cargo build` builds it)")
        return
    result = subprocess.run([str(ENGINE), "verify", str(bundle)], capture_output=True, text=True, timeout=120)
    test.assertEqual(result.returncode, 0, result.stderr + result.stdout)
    test.assertIn("parity cases passed", result.stdout)


class TrendingTest(unittest.TestCase):
    def test_trending_decays_by_age_and_popularity_does_not(self) -> None:
        day = 86_400.0
        events = data.Events(
            shopper=np.zeros(4, np.int32), item=np.array([0, 0, 1, 2], np.int32),
            time=np.array([0.0, 0.0, 13 * day, 14 * day]), kind=np.zeros(4, np.int8),
            basket=np.full(4, -1, np.int32), shopper_ids=["u"], users=1, sessions=0, baskets=0,
            report=None, unknown_items=None, unknown_ids=0)
        scores = train.trending_scores(events, 4, None, half_life_days=7.0)
        self.assertEqual(scores.shape, (4, 2))
        np.testing.assert_allclose(scores[:, 1], [2, 1, 1, 0])  # views weigh 1
        np.testing.assert_allclose(scores[:, 0], [2 * 0.25, 2 ** (-1 / 7), 1, 0], rtol=1e-6)
        self.assertGreater(scores[1, 0], scores[0, 0], "one recent view beats two old ones")


class TogetherTest(unittest.TestCase):
    def events(self, items, baskets, shoppers=None, times=None) -> data.Events:
        n = len(items)
        return data.Events(
            shopper=np.array(shoppers or [0] * n, np.int32), item=np.array(items, np.int32),
            time=np.array(times or [0.0] * n), kind=np.zeros(n, np.int8), basket=np.array(baskets, np.int32),
            shopper_ids=["u"], users=1, sessions=0, baskets=0, report=None, unknown_items=None, unknown_ids=0)

    def test_pairs_bought_together_at_least_twice_scored_with_shrinkage(self) -> None:
        # Baskets: {0,1} three times, {0,2} once, {1,2} twice.
        events = self.events([0, 1, 0, 1, 0, 1, 0, 2, 1, 2, 1, 2], [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
        offsets, partners, scores = train.bought_together(events, 4, shrinkage=5.0, min_count=2)
        self.assertEqual(offsets.tolist(), [0, 1, 3, 4, 4])
        self.assertEqual(partners.tolist(), [1, 0, 2, 1], "0-2 was bought together once: left out")
        # c(0,1) = 3, s(0) = 4, s(1) = 5: 3 / (sqrt(20) + 5)
        self.assertAlmostEqual(float(scores[0]), 3 / (20 ** 0.5 + 5), places=6)
        self.assertGreater(scores[1], scores[2], "item 1: item 0 (3 baskets) before item 2 (2 baskets)")

    def test_without_baskets_a_session_window_is_the_transaction(self) -> None:
        minute = 60.0
        events = self.events([0, 1, 0, 1], [-1] * 4, shoppers=[0, 0, 0, 0], times=[0, minute, 5 * 3600, 5 * 3600 + minute])
        self.assertEqual(train.transactions(events).tolist(), [0, 0, 1, 1])
        offsets, partners, _ = train.bought_together(events, 2, min_count=2)
        self.assertEqual(partners.tolist(), [1, 0])


class TrainExampleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.scratch = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.scratch.name)
        cls.bundle = cls.dir / "shop"
        cls.status, cls.output = run_train("--catalog", str(EXAMPLES / "catalog.csv"),
                                           "--events", str(EXAMPLES / "events.csv"), "--out", str(cls.bundle), *FAST)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.scratch.cleanup()

    def test_the_example_becomes_a_bundle_the_engine_accepts(self) -> None:
        self.assertEqual(self.status, 0, self.output)
        manifest = json.loads((self.bundle / "manifest.json").read_text())
        self.assertEqual(set(manifest["models"]), {"similar", "factors", "next_up", "popularity", "together"})
        self.assertEqual(manifest["item_count"], 30)
        kinds = {case["kind"] for case in manifest["parity"]["cases"]}
        self.assertEqual(kinds, {"similar", "for_history", "next_up", "trending", "together"})
        self.assertEqual(manifest["models"]["similar"]["embeddings"]["dtype"], "i8")
        catalog = json.loads((self.bundle / "catalog.json").read_text())["items"]
        tea = next(item for item in catalog if item["id"] == "TEA-003")
        self.assertEqual(tea["categories"], ["Tea", "Green tea", "Matcha"])
        self.assertEqual(tea["attributes"]["price"], 24.0)
        self.assertIs(tea["attributes"]["organic"], True)
        self.assertEqual(tea["attributes"]["caffeine_mg"], 70)
        for fragment in ("data report", "296 rows read", "time span", "density", "no shopper data"):
            self.assertIn(fragment, self.output)
        self.assertEqual([p.name for p in self.dir.iterdir() if p.name.startswith(".")], [])
        verify(self, self.bundle)

    def test_no_shopper_data_by_default(self) -> None:
        self.assertEqual(self.status, 0, self.output)
        names = {p.name for p in self.bundle.iterdir()}
        self.assertFalse(names & {"users.json", "user_factors.f32"}, names)
        factors = json.loads((self.bundle / "manifest.json").read_text())["models"]["factors"]
        self.assertFalse({"users", "users_file", "known_users_notice"} & set(factors), factors)
        shoppers = example_shoppers()
        self.assertEqual(len(shoppers), 24 + 55)
        for path in self.bundle.iterdir():
            content = path.read_bytes()
            leaked = [s for s in shoppers if s.encode() in content]
            self.assertEqual(leaked, [], f"{path.name} names shoppers")

    def test_parity_histories_are_no_shoppers_history(self) -> None:
        catalog = data.read_catalog(EXAMPLES / "catalog.csv", log=lambda _: None)
        events = data.read_events(EXAMPLES / "events.csv", catalog, log=lambda _: None)
        real = {tuple(catalog.ids[i] for i in train.consecutive_distinct(s)) for s in events.sequences()}
        cases = json.loads((self.bundle / "manifest.json").read_text())["parity"]["cases"]
        for case in cases:
            history = tuple(case.get("history", ()))
            if len(history) > 2:
                self.assertFalse(any(history == seq[:len(history)] for seq in real), history)

    def test_a_failed_build_leaves_the_previous_bundle(self) -> None:
        before = {p.name: p.read_bytes() for p in self.bundle.iterdir()}
        with mock.patch.object(next_up, "build", side_effect=RuntimeError("simulated crash")):
            with self.assertRaises(RuntimeError):
                run_train("--catalog", str(EXAMPLES / "catalog.csv"), "--events", str(EXAMPLES / "events.csv"),
                          "--out", str(self.bundle), *FAST)
        self.assertEqual({p.name: p.read_bytes() for p in self.bundle.iterdir()}, before)
        self.assertEqual([p.name for p in self.dir.iterdir() if p.name.startswith(".")], [])


class KnownUsersTest(unittest.TestCase):
    def test_known_users_only_with_the_flag_and_said_so(self) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            bundle = Path(scratch) / "research"
            status, output = run_train("--catalog", str(EXAMPLES / "catalog.jsonl"),
                                       "--events", str(EXAMPLES / "events.jsonl"), "--out", str(bundle),
                                       "--no-next-up", "--include-known-users", "--version", "r1")
            self.assertEqual(status, 0, output)
            manifest = json.loads((bundle / "manifest.json").read_text())
            factors = manifest["models"]["factors"]
            self.assertEqual(factors["users_file"], "users.json")
            self.assertTrue(factors["known_users_notice"].startswith("public research data"))
            users = json.loads((bundle / "users.json").read_text())
            self.assertEqual(len(users["ids"]), 30)
            self.assertIn("for_user", {case["kind"] for case in manifest["parity"]["cases"]})
            self.assertIn("WITH known users", output)
            verify(self, bundle)


class RefusalTest(unittest.TestCase):
    """Unusable input: a non-zero exit naming the problem, and no bundle written."""

    def refuse(self, catalog: str, events: str, *fragments: str, events_name: str = "events.csv") -> None:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            (folder / "catalog.csv").write_text(catalog)
            (folder / events_name).write_bytes(events.encode("latin-1"))
            status, output = run_train("--catalog", str(folder / "catalog.csv"), "--events",
                                       str(folder / events_name), "--out", str(folder / "out"), *FAST)
            self.assertNotEqual(status, 0, output)
            for fragment in fragments:
                self.assertIn(fragment, output)
            self.assertEqual(sorted(p.name for p in folder.iterdir()), sorted(["catalog.csv", events_name]))

    def test_missing_column(self) -> None:
        self.refuse("id,title\nA,Apple\n", "user,item\nu1,A\n", "train:", "no 'timestamp' column")

    def test_wrong_encoding(self) -> None:
        self.refuse("id,title\nA,Apple\n", "user,item,timestamp\nJos\u00e9,A,1\n", "line 2 is not UTF-8")

    def test_every_item_unknown(self) -> None:
        self.refuse("id,title\nA,Apple\n", "user,item,timestamp\nu1,B,1\nu2,C,1\n", "not in the catalog")

    def test_no_events_left(self) -> None:
        self.refuse("id,title\nA,Apple\n", "user,item,timestamp\nu1,A,never\n", "no events left")

    def test_not_replacing_a_folder_that_is_not_a_bundle(self) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "docs"
            out.mkdir()
            (out / "precious.txt").write_text("keep me")
            status, output = run_train("--catalog", str(EXAMPLES / "catalog.csv"), "--events",
                                       str(EXAMPLES / "events.csv"), "--out", str(out), "--no-next-up")
            self.assertNotEqual(status, 0)
            self.assertIn("is not a bundle", output)
            self.assertEqual([p.name for p in out.iterdir()], ["precious.txt"])


if __name__ == "__main__":
    unittest.main()
