"""Content columns for similar items (models/content.py) and a product no one bought.

Run: python -m unittest discover -s models/tests -t .
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

from models import content, data, train
from models.tests.test_train import EXAMPLES, FAST, run_train, verify


def catalog(*items: tuple[str, str, list[str], dict]) -> data.Catalog:
    return data.Catalog([data.Item(i, title, cats, attrs) for i, title, cats, attrs in items], report=None)


class TokensTest(unittest.TestCase):
    def test_title_words_categories_and_string_attributes_are_separate_terms(self) -> None:
        item = data.Item("1", "Frozen Peas, 500 g", ["Frozen"], {"brand": "Acme", "price": 2.5})
        self.assertEqual(content.tokens(item), {"w:frozen", "w:peas", "w:500", "c:frozen", "a:brand=acme"})

    def test_terms_of_one_item_only_are_dropped_and_rows_are_unit(self) -> None:
        shop = catalog(("a", "Green Tea", ["Tea"], {}), ("b", "Black Tea", ["Tea"], {}),
                       ("c", "Blue Mug", ["Cups"], {}))
        x = content.tfidf(shop)
        self.assertEqual(x.shape, (3, 2), "only 'tea' and 'Tea' (the category) are in two items")
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        np.testing.assert_allclose(norms[:2], 1.0)
        self.assertEqual(norms[2], 0.0, "a mug shares no term: an empty row, not a NaN")


class BlendTest(unittest.TestCase):
    def setUp(self) -> None:
        rng = np.random.default_rng(0)
        self.cf = rng.normal(size=(6, 4))
        self.content = content.unit_rows(rng.normal(size=(6, 3)))
        self.warm = np.array([True, True, True, True, False, False])

    def test_every_row_is_unit_and_the_cosine_is_the_blend(self) -> None:
        rows = content.blended(self.cf, self.warm, self.content, 0.7).astype(np.float64)
        np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-6)
        cf = content.unit_rows(self.cf)
        expected = 0.7 * cf[0] @ cf[1] + 0.3 * self.content[0] @ self.content[1]
        self.assertAlmostEqual(rows[0] @ rows[1], expected, places=6)

    def test_items_without_events_query_by_content_alone(self) -> None:
        rows = content.blended(self.cf, self.warm, self.content, 0.7)
        queries = content.queries(rows, self.warm, 3)
        np.testing.assert_array_equal(queries[4, :4], 0.0)
        np.testing.assert_allclose(queries[4, 4:], self.content[4], rtol=1e-6)
        np.testing.assert_allclose(queries[0], rows[0], rtol=1e-6)

    def test_ties_count_against_the_target(self) -> None:
        rows = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        pairs = content.Pairs(np.array([0]), np.array([2]))
        self.assertEqual(content.hit_rates(rows, rows, pairs, k=1), (0.0, 0.0), "item 1 ties and comes first")
        self.assertEqual(content.hit_rates(rows, rows, pairs, k=2)[0], 1.0)


class NothingSharedTest(unittest.TestCase):
    def test_a_catalog_whose_products_share_no_term_keeps_the_collaborative_embedding(self) -> None:
        shop = catalog(*[(str(i), f"unique{i}", [], {}) for i in range(4)])
        self.assertEqual(content.content_vectors(shop).shape, (4, 0))
        events = data.Events(
            shopper=np.zeros(2, np.int32), item=np.array([0, 1], np.int32), time=np.zeros(2),
            kind=np.zeros(2, np.int8), basket=np.full(2, -1, np.int32), shopper_ids=["u"], users=1, sessions=0,
            baskets=0, report=None, unknown_items=None, unknown_ids=0)
        cf = np.arange(8, dtype=np.float32).reshape(4, 2)
        args = argparse.Namespace(content_dim=32, content_blend=0.9, seed=0, weights=None)
        rows, spec = train.content_blend(args, shop, events, train.transactions(events), {}, 2, 2, cf)
        self.assertIs(rows, cf)
        self.assertIsNone(spec)


class UnboughtProductTest(unittest.TestCase):
    """The worked example with every event of one tea removed: it still has neighbours,
    found from its content, and the engine's answer matches the reference."""

    def test_a_product_no_one_bought_gets_neighbours_from_its_content(self) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            events = Path(scratch) / "events.csv"
            with open(EXAMPLES / "events.csv", newline="") as source, open(events, "w", newline="") as out:
                rows = list(csv.reader(source))
                item = rows[0].index("item")
                csv.writer(out).writerows([rows[0]] + [r for r in rows[1:] if r[item] != "TEA-003"])
            bundle = Path(scratch) / "shop"
            status, output = run_train("--catalog", str(EXAMPLES / "catalog.csv"), "--events", str(events),
                                       "--out", str(bundle), "--matrix-dtype", "f32", *FAST)
            self.assertEqual(status, 0, output)
            self.assertIn("1 items without events query by content", output)
            manifest = json.loads((bundle / "manifest.json").read_text())
            similar = manifest["models"]["similar"]
            self.assertTrue(0 < similar["content_columns"] <= content.CONTENT_DIM, similar)
            case = next(c for c in manifest["parity"]["cases"] if c["kind"] == "similar" and c["item"] == "TEA-003")
            shop = data.read_catalog(EXAMPLES / "catalog.csv", log=lambda _: None)
            top3 = [shop.items[shop.index[e["id"]]] for e in case["expected"][:3]]
            # Matcha: the other green teas and the matcha whisk, by title and category.
            self.assertEqual({item.id for item in top3}, {"TEA-001", "TEA-002", "BRW-006"},
                             [item.title for item in top3])
            verify(self, bundle)


if __name__ == "__main__":
    unittest.main()
