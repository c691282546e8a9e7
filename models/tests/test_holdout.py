"""The evaluation split (models/holdout.py): last baskets held out, the rest readable as training input.

Run: python -m unittest discover -s models/tests -t .
"""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from models import data, holdout

CATALOG = "id,title,categories\n" + "".join(f"P{i},Product {i},Aisle {i % 3}\n" for i in range(1, 9))
# Shopper a: two orders, the last adds P5 and P6 and repeats P1 (not a target). Shopper b: one
# order only (nothing before it, so untested). Session s: views, no baskets
# (its last event is held out). Shopper c: the last order holds nothing new.
EVENTS = """user,session,item,timestamp,type,basket
a,,P1,2024-01-01T10:00:00Z,purchase,o1
a,,P2,2024-01-01T10:00:01Z,purchase,o1
a,,P1,2024-01-08T10:00:00Z,purchase,o2
a,,P5,2024-01-08T10:00:01Z,purchase,o2
a,,P6,2024-01-08T10:00:02Z,purchase,o2
b,,P3,2024-01-02T09:00:00Z,purchase,o3
b,,P4,2024-01-02T09:00:01Z,purchase,o3
,s9,P7,2024-01-03T09:00:00Z,view,
,s9,P8,2024-01-03T09:05:00Z,view,
,s9,P2,2024-01-03T09:10:00Z,view,
c,,P3,2024-01-04T09:00:00Z,purchase,o4
c,,P3,2024-01-05T09:00:00Z,purchase,o5
"""


def quiet(_message: str) -> None:
    pass


class HoldoutTest(unittest.TestCase):
    def test_last_baskets_are_held_out_and_the_rest_trains(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "catalog.csv").write_text(CATALOG)
            (tmp / "events.csv").write_text(EVENTS)
            catalog = data.read_catalog(tmp / "catalog.csv", log=quiet)
            events = data.read_events(tmp / "events.csv", catalog, log=quiet)
            trained, tested = holdout.write_split(catalog, events, tmp / "split")
            lines = (tmp / "split" / "last-basket.txt").read_text().splitlines()
            self.assertEqual(sorted(lines), ["a P1 P2 | P5 P6", "session:s9 P7 P8 | P2"])
            self.assertEqual(tested, 2)
            # Held out: a's o2 (3 lines), s9's last view, c's o5; b keeps its only order.
            self.assertEqual(trained, 12 - 5)
            again = data.read_events(tmp / "split" / "train-events.csv", catalog, log=quiet)
            self.assertEqual(len(again), trained)
            self.assertEqual(again.sessions, 1, "a session stays a session")
            self.assertEqual(sorted(again.shopper_ids), ["a", "b", "c", "session:s9"])
            kept = {(again.shopper_ids[s], catalog.ids[i]) for s, i in zip(again.shopper, again.item)}
            self.assertNotIn(("a", "P5"), kept)
            self.assertIn(("b", "P4"), kept)

    def test_ids_the_file_format_cannot_hold_are_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "catalog.csv").write_text("id,title,categories\nA 1,One,X\nB,Two,X\n")
            (tmp / "events.csv").write_text("user,item,timestamp\nu,A 1,1\nu,B,2\n")
            catalog = data.read_catalog(tmp / "catalog.csv", log=quiet)
            events = data.read_events(tmp / "events.csv", catalog, log=quiet)
            with self.assertRaisesRegex(data.DataError, "'A 1' has a space"):
                holdout.write_split(catalog, events, tmp / "split")


if __name__ == "__main__":
    unittest.main()
