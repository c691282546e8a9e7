"""The eval split as shop input (models/build_eval_bundle.py --shop-files): each user's last
item held out, the rest readable by the training pipeline in the original order.

Run: python -m unittest discover -s models/tests -t .
"""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from models import data
from models.build_eval_bundle import write_sequences, write_shop_files


def quiet(_message: str) -> None:
    pass


class ShopFilesTest(unittest.TestCase):
    def test_every_user_but_the_last_item_in_order(self):
        raw = [["3", "1", "2", "1"], ["2", "5"], ["4"]]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            write_shop_files(out, ["1", "2", "3", "4", "5"], raw)
            catalog = data.read_catalog(out / "catalog.csv", log=quiet)
            events = data.read_events(out / "events.csv", catalog, log=quiet)
            self.assertEqual(len(catalog.ids), 5)
            sequences = [[catalog.ids[i] for i in s] for s in events.sequences()]
            # User 3 has one item, its test item: nothing of theirs trains.
            self.assertEqual(sorted(sequences), [["2"], ["3", "1", "2"]])

    def test_sequences_file_is_what_eval_parses(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "sequences.txt"
            write_sequences(path, [["7", "8"], ["9"]])
            self.assertEqual(path.read_text(), "1 7 8\n2 9\n")


if __name__ == "__main__":
    unittest.main()
