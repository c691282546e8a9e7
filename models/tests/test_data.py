"""Reading and validating a shop's catalog and events (models/data.py).

Run: python -m unittest discover -s models/tests -t .
"""

from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

from models import data, factors, factors_sparse

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

CATALOG = """id,title,categories,price,available,pack,code,weight_kg
A,Apple,Fruit|Fresh,1.5,true,6,0042,0.2
B,Banana,"[""Fruit"", ""Tropical""]",0.9,no,1,0100,1
C,Cherry,Fruit,3,TRUE,12,0007,0.5
"""


class Scratch(unittest.TestCase):
    def setUp(self) -> None:
        self.scratch = tempfile.TemporaryDirectory()
        self.dir = Path(self.scratch.name)

    def tearDown(self) -> None:
        self.scratch.cleanup()

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.dir / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        return path

    def catalog(self, content: str = CATALOG, name: str = "catalog.csv") -> data.Catalog:
        return data.read_catalog(self.file(name, content), log=lambda _: None)

    def events(self, content: str, name: str = "events.csv", catalog: data.Catalog | None = None) -> data.Events:
        return data.read_events(self.file(name, content), catalog or self.catalog(), log=lambda _: None)

    def assertFails(self, call, *fragments: str) -> str:
        with self.assertRaises(data.DataError) as caught:
            call()
        message = str(caught.exception)
        for fragment in fragments:
            self.assertIn(fragment, message)
        return message


class CatalogTest(Scratch):
    def test_categories_and_typed_attributes(self) -> None:
        catalog = self.catalog()
        a, b, c = (item.to_json() for item in catalog.items)
        self.assertEqual(a["categories"], ["Fruit", "Fresh"])
        self.assertEqual(b["categories"], ["Fruit", "Tropical"])  # a JSON array in a CSV cell
        self.assertEqual(a["attributes"], {"price": 1.5, "available": True, "pack": 6, "code": "0042",
                                           "weight_kg": 0.2})
        self.assertEqual(b["attributes"]["available"], False)
        self.assertEqual(b["attributes"]["weight_kg"], 1.0)  # the column is decimal: all floats
        self.assertEqual(c["attributes"]["price"], 3.0)
        self.assertEqual(c["attributes"]["code"], "0007")  # codes with leading zeros stay text

    def test_missing_column(self) -> None:
        self.assertFails(lambda: self.catalog("id,name\nA,Apple\n"), "catalog.csv", "no 'title' column",
                         "columns: id, name")

    def test_not_utf8(self) -> None:
        content = "id,title\nA,Apple\nB,Cr\u00e8me\n".encode("latin-1")
        self.assertFails(lambda: self.catalog(content), "not UTF-8", "line 3", "save the file as UTF-8")
        utf16 = "id,title\nA,Apple\n".encode("utf-16")
        self.assertFails(lambda: self.catalog(utf16), "UTF-16")

    def test_utf8_bom_is_fine(self) -> None:
        catalog = self.catalog("\ufeffid,title\nA,Cr\u00e8me br\u00fbl\u00e9e\n")
        self.assertEqual(catalog.items[0].title, "Cr\u00e8me br\u00fbl\u00e9e")

    def test_duplicate_ids_keep_the_first_and_are_reported(self) -> None:
        catalog = self.catalog("id,title\nA,Apple\nB,Banana\nA,Avocado\nA,Apricot\n")
        self.assertEqual([i.title for i in catalog.items], ["Apple", "Banana"])
        problems = catalog.report.rejected["duplicate id"]
        self.assertEqual(problems.count, 2)
        self.assertIn("line 4: id 'A' is already on line 2", problems.examples[0])
        self.assertIn("line 5", problems.examples[1])

    def test_bad_categories_reject_the_row(self) -> None:
        catalog = self.catalog('id,title,categories\nA,Apple,Fruit\nB,Banana,"[""Fruit"", 3]"\n'
                               'C,Cherry,"[""Fruit"""\n')
        self.assertEqual(catalog.ids, ["A"])
        problems = catalog.report.rejected["bad categories"]
        self.assertEqual(problems.count, 2)
        self.assertIn("line 3: category 3 is not text", problems.examples[0])
        self.assertIn("line 4", problems.examples[1])

    def test_rows_without_id_or_title_or_with_wrong_width(self) -> None:
        catalog = self.catalog("id,title\nA,Apple\n,Nameless\nB,\nC,Cherry,extra\n\nD,Date\n")
        self.assertEqual(catalog.ids, ["A", "D"])
        report = catalog.report
        self.assertEqual(report.rows, 5)  # the blank line is not a row
        self.assertEqual(set(report.rejected), {"no id", "no title", "wrong number of fields"})
        self.assertIn("line 5", report.rejected["wrong number of fields"].examples[0])

    def test_bad_optional_values_drop_the_field_not_the_item(self) -> None:
        catalog = self.catalog("id,title,price,available\nA,Apple,cheap,maybe\n")
        self.assertEqual(catalog.items[0].attributes, {})
        self.assertIn("bad price (field dropped)", catalog.report.warnings)
        self.assertIn("bad available (field dropped)", catalog.report.warnings)

    def test_no_items_left(self) -> None:
        self.assertFails(lambda: self.catalog("id,title\n,x\n,y\n"), "no catalog items left", "no id")

    def test_json_lines(self) -> None:
        catalog = self.catalog('{"id": "A", "title": "Apple", "categories": ["Fruit"], "price": 2, '
                               '"tags": ["x"], "stock": 3}\n\nnot json\n[1]\n{"id": 7, "title": "Seven"}\n'
                               '{"title": "no id"}\n', name="catalog.jsonl")
        self.assertEqual(catalog.ids, ["A", "7"])
        self.assertEqual(catalog.items[0].attributes, {"price": 2.0, "stock": 3})
        self.assertEqual(catalog.report.rejected["not JSON"].count, 2)
        self.assertIn("line 3", catalog.report.rejected["not JSON"].examples[0])
        self.assertEqual(catalog.report.rejected["no id"].count, 1)
        self.assertTrue(any("not text, number" in kind for kind in catalog.report.warnings))

    def test_unknown_file_type(self) -> None:
        self.assertFails(lambda: self.catalog("x", name="catalog.xlsx"), "unknown file type")

    def test_the_example_in_both_formats_is_the_same_catalog(self) -> None:
        csv_items = data.read_catalog(EXAMPLES / "catalog.csv", log=lambda _: None).items
        json_items = data.read_catalog(EXAMPLES / "catalog.jsonl", log=lambda _: None).items
        self.assertEqual(len(csv_items), 30)
        self.assertEqual([i.to_json() for i in csv_items], [i.to_json() for i in json_items])

    def test_parquet(self) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            self.skipTest("pyarrow is not installed (Parquet input is optional)")
        path = self.dir / "catalog.parquet"
        pq.write_table(pa.table({"id": ["A", "B"], "title": ["Apple", "Banana"],
                                 "categories": [["Fruit"], ["Fruit", "Tropical"]], "price": [1.5, 0.9]}), path)
        catalog = data.read_catalog(path, log=lambda _: None)
        self.assertEqual(catalog.items[1].to_json(), {"id": "B", "title": "Banana", "categories": ["Fruit", "Tropical"],
                                                      "attributes": {"price": 0.9}})
        events_path = self.dir / "events.parquet"
        pq.write_table(pa.table({"user": ["u1", "u1"], "item": ["A", "B"], "timestamp": [1700000000, 1700000060]}),
                       events_path)
        events = data.read_events(events_path, catalog, log=lambda _: None)
        self.assertEqual(events.item.tolist(), [0, 1])


class EventsTest(Scratch):
    def test_missing_columns(self) -> None:
        self.assertFails(lambda: self.events("user,product,timestamp\nu,A,1\n"), "no 'item' column")
        self.assertFails(lambda: self.events("user,item\nu,A\n"), "no 'timestamp' column")
        self.assertFails(lambda: self.events("visitor,item,timestamp\nu,A,1\n"), "neither a 'user' nor a 'session'")

    def test_not_utf8(self) -> None:
        content = "user,item,timestamp\nu1,A,1700000000\nJos\u00e9,A,1700000000\n".encode("latin-1")
        self.assertFails(lambda: self.events(content), "not UTF-8", "line 3")

    def test_bad_timestamps_are_rejected_with_lines_and_reasons(self) -> None:
        events = self.events("user,item,timestamp\nu1,A,2025-03-01T10:00:00Z\nu1,B,yesterday\n"
                             "u1,C,1700000000000\nu1,A,-5\nu1,B,\nu2,A,2025-03-01 10:00:00+01:00\nu2,B,1740823200.5\n")
        self.assertEqual(len(events), 3)
        problems = events.report.rejected["bad timestamp"]
        self.assertEqual(problems.count, 4)
        self.assertIn("line 3: 'yesterday' is neither ISO 8601 nor epoch seconds", problems.examples[0])
        self.assertIn("milliseconds", problems.examples[1])
        self.assertEqual(events.time.tolist(), [1740823200.0, 1740819600.0, 1740823200.5])

    def test_no_events_left(self) -> None:
        self.assertFails(lambda: self.events("user,item,timestamp\nu1,A,soon\nu2,B,later\n"),
                         "no events left after validation", "bad timestamp", "line 2")

    def test_every_item_unknown(self) -> None:
        self.assertFails(lambda: self.events("user,item,timestamp\nu1,X,1\nu2,Y,2\n"),
                         "every event (2) names an item that is not in the catalog", "line 2: item 'X'")

    def test_unknown_items_are_dropped_and_reported(self) -> None:
        events = self.events("user,item,timestamp\nu1,A,1\nu1,X,2\nu2,B,3\nu2,X,4\nu2,Z,5\n")
        self.assertEqual(len(events), 2)
        self.assertEqual((events.unknown_items.count, events.unknown_ids), (3, 2))
        lines = "\n".join(data.report_lines(self.catalog(), events))
        self.assertIn("events naming unknown items (dropped): 3 (2 distinct ids)", lines)
        self.assertIn("line 3: item 'X' is not in the catalog", lines)

    def test_types_weights_users_sessions_baskets(self) -> None:
        events = self.events("user,session,item,timestamp,type,basket\n"
                             "u1,s1,A,1,view,\nu1,s1,A,2,cart,\nu1,s1,A,3,purchase,o1\n,s2,B,4,,\n"
                             ",s2,C,5,VIEW,\nu2,,B,6,refund,\n,,C,7,view,\n")
        self.assertEqual(events.weights().tolist(), [1.0, 2.0, 4.0, 1.0, 1.0])
        self.assertEqual(events.shopper_ids, ["u1", "session:s2"])
        self.assertEqual((events.users, events.sessions, events.baskets), (1, 2, 1))
        self.assertEqual(events.report.rejected["unknown type"].count, 1)
        self.assertEqual(events.report.rejected["no user or session"].count, 1)
        matrix = factors_sparse.events_matrix(events, 3)
        self.assertAlmostEqual(matrix[0, 0], np.log1p(7.0), places=5)  # 1 + 2 + 4, summed, then log1p
        self.assertEqual(matrix.nnz, 3)

    def test_json_lines_events(self) -> None:
        events = self.events('{"user": "u1", "item": "A", "timestamp": 1700000000}\n'
                             '{"session": 5, "item": "B", "timestamp": "2025-01-01T00:00:00Z", "type": "cart"}\n'
                             '{"user": "u1", "timestamp": 1}\n{"user": "u1", "item": "C", "timestamp": true}\n',
                             name="events.jsonl")
        self.assertEqual(events.shopper_ids, ["u1", "session:5"])
        self.assertEqual(events.report.rejected["no item"].count, 1)
        self.assertEqual(events.report.rejected["bad timestamp"].count, 1)

    def test_sequences_follow_time_then_file_order(self) -> None:
        events = self.events("user,item,timestamp\nu1,C,5\nu2,A,1\nu1,A,1\nu1,B,5\n")
        self.assertEqual([s.tolist() for s in events.sequences()], [[0, 2, 1], [0]])

    def test_report_of_the_example(self) -> None:
        catalog = data.read_catalog(EXAMPLES / "catalog.csv", log=lambda _: None)
        events = data.read_events(EXAMPLES / "events.csv", catalog, log=lambda _: None)
        text = "\n".join(data.report_lines(catalog, events))
        for fragment in ("296 rows read, 296 events kept, 0 rejected", "24 users", "time span 2025-03-",
                         "density", "items with events 30 of 30"):
            self.assertIn(fragment, text)
        other = data.read_events(EXAMPLES / "events.jsonl", catalog, log=lambda _: None)
        self.assertEqual(events.time.tolist(), other.time.tolist())
        self.assertEqual(events.item.tolist(), other.item.tolist())


class SparseFactorTest(unittest.TestCase):
    def test_randomized_svd_matches_the_dense_svd(self) -> None:
        rng = np.random.default_rng(1)
        dense = (rng.random((60, 40)) < 0.2) * rng.random((60, 40))
        import scipy.sparse as sp
        u, s, vt = factors_sparse.randomized_svd(sp.csr_matrix(dense), 5, seed=0)
        self.assertTrue(np.allclose(s, np.linalg.svd(dense, compute_uv=False)[:5], rtol=1e-3))

    def test_batched_fold_in_is_the_reference_fold_in(self) -> None:
        rng = np.random.default_rng(2)
        v = rng.normal(size=(30, 4)).astype(np.float32)
        histories = [np.array([1, 5, 7]), np.array([2]), np.array([0, 29])]
        batch = factors_sparse.known_user_factors(v, histories, 0.5)
        for row, history in enumerate(histories):
            self.assertTrue(np.allclose(batch[row], factors.fold_in(v, list(history), 0.5), atol=1e-5))

    def test_holdout_keeps_the_last_basket_out(self) -> None:
        scratch = Scratch()
        scratch.setUp()
        try:
            events = scratch.events("user,item,timestamp,basket\nu1,A,1,o1\nu1,B,1,o1\nu1,C,9,o2\nu1,A,9,o2\n"
                                    "u2,A,1,o3\nu3,B,1,o4\nu3,C,2,o5\n")
        finally:
            scratch.tearDown()
        held = factors_sparse.holdout(events)
        self.assertEqual(held.train.tolist(), [True, True, False, False, True, True, False])
        self.assertEqual([h.tolist() for h in held.histories], [[0, 1], [1]])
        self.assertEqual([t.tolist() for t in held.targets], [[2], [2]])  # A was in u1's history already


class InstacartTest(unittest.TestCase):
    """The converter of ../shared/data/instacart (skipped where that data is not present)."""

    def test_converted_files_read_back(self) -> None:
        from models import instacart

        source = Path(__file__).resolve().parents[3] / "shared" / "data" / "instacart"
        if not (source / "orders_sample.csv").is_file():
            self.skipTest(f"no Instacart sample at {source}")
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch)
            self.assertEqual(instacart.write_catalog(source, out / "catalog.csv"), 49688)
            self.assertEqual(instacart.write_events(source, out / "events.csv", replicate=2, log=lambda _: None),
                             300_000)
            catalog = data.read_catalog(out / "catalog.csv", log=lambda _: None)
            bakeware = catalog.items[catalog.index["105"]].to_json()
            self.assertEqual(bakeware["title"], 'Easy Grab 9"x13" Oblong Glass Bakeware')
            self.assertEqual(bakeware["categories"], ["Household", "Kitchen Supplies"])
            self.assertEqual(bakeware["attributes"], {"department": "Household", "aisle": "Kitchen Supplies"})
            events = data.read_events(out / "events.csv", catalog, log=lambda _: None)
            self.assertEqual((len(events), len(events.shopper_ids), events.baskets), (300_000, 1186, 30_366))
            self.assertEqual(events.report.rejected_rows + events.unknown_items.count, 0)
            first = events.sequences()[0]  # user 1: order 1 in cart order, then order 2
            self.assertEqual([catalog.ids[i] for i in first[:6]], ["196", "14084", "12427", "26088", "26405", "196"])


if __name__ == "__main__":
    unittest.main()
