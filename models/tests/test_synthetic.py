"""The synthetic benchmark catalog (models/synthetic.py): a small one, built,
published, checked by the engine when its binary is built, and kept when
asked for again.

Run: python -m unittest discover -s models/tests -t .
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from models import synthetic
from models.tests.test_train import verify


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    status = 0
    with contextlib.redirect_stdout(out), mock.patch.object(sys, "argv", ["synthetic", *args]):
        try:
            synthetic.main()
        except SystemExit as exit:
            status = exit.code if isinstance(exit.code, int) else 1
            out.write(str(exit.code))
    return status, out.getvalue()


class SyntheticCatalogTest(unittest.TestCase):
    def test_a_published_bundle_with_every_model_that_the_engine_verifies(self):
        with tempfile.TemporaryDirectory() as tmp:
            channel = Path(tmp) / "synthetic"
            status, printed = run("--items", "300", "--channel", str(channel))
            self.assertEqual(status, 0, printed)
            version = json.loads((channel / "latest.json").read_text())["version"]
            folder = channel / "versions" / version
            manifest = json.loads((folder / "manifest.json").read_text())
            self.assertEqual(manifest["item_count"], 300)
            self.assertEqual(set(manifest["models"]), {"similar", "factors", "next_up", "popularity"})
            self.assertEqual(manifest["models"]["next_up"]["items"]["dtype"], "i8")
            kinds = {case["kind"] for case in manifest["parity"]["cases"]}
            self.assertEqual(kinds, {"similar", "for_history", "next_up", "trending"})
            self.assertEqual(len(json.loads((folder / "catalog.json").read_text())["items"]), 300)
            verify(self, folder)

            status, printed = run("--items", "300", "--channel", str(channel))
            self.assertEqual(status, 0, printed)
            self.assertIn("kept", printed)
            status, printed = run("--items", "400", "--channel", str(channel))
            self.assertNotEqual(status, 0)
            self.assertIn("holds a bundle of 300 items", printed)

    def test_a_catalog_too_small_for_the_parity_inputs_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()) as err:
            status, _ = run("--items", "50", "--channel", str(Path(tmp) / "c"))
        self.assertEqual(status, 2)
        self.assertIn("at least 100", err.getvalue())


if __name__ == "__main__":
    unittest.main()
