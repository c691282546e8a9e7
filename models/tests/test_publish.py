"""Publishing to a channel (models/publish.py). Run: python -m unittest discover -s models/tests -t ."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from models import keys, publish
from models.bundle import FORMAT


class PublishTest(unittest.TestCase):
    def setUp(self) -> None:
        self.scratch = tempfile.TemporaryDirectory()
        self.dir = Path(self.scratch.name)
        self.channel = self.dir / "channel"

    def tearDown(self) -> None:
        self.scratch.cleanup()

    def bundle(self, version: str) -> Path:
        folder = self.dir / f"bundle-{version}"
        folder.mkdir()
        files = []
        for name, data in [("a.bin", b"a" * 100), ("b.bin", version.encode() * 50)]:
            (folder / name).write_bytes(data)
            files.append({"path": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        (folder / "manifest.json").write_text(json.dumps({"format": FORMAT, "version": version, "files": files}))
        return folder

    def leftovers(self) -> list[str]:
        return sorted(p.name for p in (self.channel / "versions").iterdir() if p.name.startswith("."))

    def test_publish_points_at_exactly_the_version_manifest(self) -> None:
        publish.publish(self.channel, self.bundle("1"))
        pointer = json.loads((self.channel / "latest.json").read_text())
        self.assertEqual(pointer, {"version": "1", "manifest": "versions/1/manifest.json"})
        self.assertFalse((self.channel / "versions" / "1" / "manifest.sig").exists(), "unsigned without --sign-key")
        self.assertEqual(self.leftovers(), [])

    def test_signed_publish_writes_a_signature_the_public_key_verifies(self) -> None:
        private_path, public_path = keys.generate(self.dir / "keys")
        publish.publish(self.channel, self.bundle("2"), sign_key=private_path)
        folder = self.channel / "versions" / "2"
        self.assertEqual(keys.verify_version(folder, [keys.load_public_key(str(public_path))]), 0)
        self.assertEqual((folder / "manifest.json").read_bytes(), (self.dir / "bundle-2" / "manifest.json").read_bytes())

    def test_a_stock_file_is_checked_then_written_and_signed(self) -> None:
        private_path, public_path = keys.generate(self.dir / "keys")
        source = self.dir / "stock-input.json"
        source.write_text(json.dumps({"out_of_stock": ["a", "b"], "overrides": {"c": {"price": 1.5}}}))
        publish.publish(self.channel, self.bundle("1"))
        self.assertNotIn("stock", json.loads((self.channel / "latest.json").read_text()))
        counts = publish.publish_stock(self.channel, source, sign_key=private_path)
        pointer = json.loads((self.channel / "latest.json").read_text())
        self.assertEqual(pointer, {"version": "1", "manifest": "versions/1/manifest.json", "stock": "stock.json"},
                         "the pointer names the stock file, so pages read it")
        publish.publish(self.channel, self.bundle("2"))
        self.assertEqual(json.loads((self.channel / "latest.json").read_text())["stock"], "stock.json",
                         "a new version keeps it named")
        self.assertEqual(counts, {"out_of_stock": 2, "overrides": 1})
        data = (self.channel / "stock.json").read_bytes()
        self.assertEqual(json.loads(data), {"out_of_stock": ["a", "b"], "overrides": {"c": {"price": 1.5}}})
        signature = (self.channel / "stock.sig").read_bytes()
        self.assertEqual(keys.verify_manifest(data, signature, [keys.load_public_key(str(public_path))]), 0)
        for bad in ({"out_of_stock": "a"}, {"overrides": {"c": {"category": "x"}}}, {"stock": []}, [1]):
            source.write_text(json.dumps(bad))
            with self.assertRaises(publish.PublishError):
                publish.publish_stock(self.channel, source)
        self.assertEqual((self.channel / "stock.json").read_bytes(), data, "a refused file changes nothing")

    def test_a_bad_key_is_refused_before_anything_is_written(self) -> None:
        publish.publish(self.channel, self.bundle("1"))
        (self.dir / "bad.key").write_text("not a key")
        with self.assertRaisesRegex(publish.PublishError, "--sign-key"):
            publish.publish(self.channel, self.bundle("2"), sign_key=self.dir / "bad.key")
        self.assertEqual(publish.versions(self.channel), ["1"])
        self.assertEqual(publish.current(self.channel), "1")
        self.assertEqual(self.leftovers(), [])

    def test_a_failure_while_copying_leaves_no_half_written_version(self) -> None:
        publish.publish(self.channel, self.bundle("1"))
        bundle = self.bundle("2")
        real_copy = shutil.copyfile
        calls = []

        def failing_copy(source, target, *args, **kwargs):
            calls.append(source)
            if len(calls) == 2:
                raise OSError("disk full")
            return real_copy(source, target, *args, **kwargs)

        with mock.patch.object(publish.shutil, "copyfile", failing_copy), self.assertRaisesRegex(OSError, "disk full"):
            publish.publish(self.channel, bundle)
        self.assertFalse((self.channel / "versions" / "2").exists())
        self.assertEqual(self.leftovers(), [])
        self.assertEqual(publish.current(self.channel), "1")
        publish.publish(self.channel, bundle)  # and it can be published afterwards
        self.assertEqual(publish.current(self.channel), "2")

    def test_a_failure_while_signing_leaves_no_half_written_version(self) -> None:
        private_path, _ = keys.generate(self.dir / "keys")
        with mock.patch.object(publish, "sign_manifest", side_effect=RuntimeError("signer crashed")), \
                self.assertRaisesRegex(RuntimeError, "signer crashed"):
            publish.publish(self.channel, self.bundle("1"), sign_key=private_path)
        self.assertEqual(publish.versions(self.channel), [])
        self.assertEqual(self.leftovers(), [])
        self.assertIsNone(publish.current(self.channel))

    def test_versions_are_immutable_and_listing_ignores_staging_folders(self) -> None:
        publish.publish(self.channel, self.bundle("1"))
        with self.assertRaisesRegex(publish.PublishError, "immutable"):
            publish.publish(self.channel, self.dir / "bundle-1")
        staging = self.channel / "versions" / ".2.123.partial"
        staging.mkdir()
        (staging / "manifest.json").write_text("{}")
        self.assertEqual(publish.versions(self.channel), ["1"])


if __name__ == "__main__":
    unittest.main()
