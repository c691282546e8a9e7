"""Signing keys and manifest signatures (models/keys.py). Run: python -m unittest discover -s models/tests -t ."""

from __future__ import annotations

import base64
import contextlib
import io
import stat
import tempfile
import unittest
from pathlib import Path

from models import keys


class KeysTest(unittest.TestCase):
    def setUp(self) -> None:
        self.scratch = tempfile.TemporaryDirectory()
        self.dir = Path(self.scratch.name)

    def tearDown(self) -> None:
        self.scratch.cleanup()

    def version(self, manifest: bytes = b'{"version": "3", "files": []}\n') -> Path:
        folder = self.dir / "versions" / "3"
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_bytes(manifest)
        return folder

    def test_generate_writes_a_private_key_only_its_owner_reads_and_a_one_line_public_key(self) -> None:
        private_path, public_path = keys.generate(self.dir / "k")
        self.assertEqual(stat.S_IMODE(private_path.stat().st_mode), 0o600)
        self.assertTrue(private_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----"))
        public_text = public_path.read_text()
        self.assertTrue(public_text.endswith("\n") and public_text.count("\n") == 1)
        self.assertEqual(len(base64.b64decode(public_text.strip(), validate=True)), 32)
        derived = keys.public_key_text(keys.load_private_key(private_path).public_key())
        self.assertEqual(derived, public_text.strip())

    def test_generate_refuses_to_overwrite(self) -> None:
        private_path, _ = keys.generate(self.dir)
        before = private_path.read_bytes()
        with self.assertRaisesRegex(keys.SigningError, "refusing to overwrite"):
            keys.generate(self.dir)
        self.assertEqual(private_path.read_bytes(), before)
        (self.dir / keys.PRIVATE_KEY_NAME).unlink()
        with self.assertRaisesRegex(keys.SigningError, "edgerec-signing.pub exists"):
            keys.generate(self.dir)
        self.assertFalse((self.dir / keys.PRIVATE_KEY_NAME).exists())

    def test_sign_then_verify_and_what_fails(self) -> None:
        private_path, public_path = keys.generate(self.dir / "a")
        other_private, other_public = keys.generate(self.dir / "b")
        folder = self.version()
        keys.sign_version(folder, keys.load_private_key(private_path))
        signature = (folder / "manifest.sig").read_text()
        self.assertRegex(signature, r"^[A-Za-z0-9+/]{86}==\n$")
        good, other = keys.load_public_key(str(public_path)), keys.load_public_key(other_public.read_text())
        self.assertEqual(keys.verify_version(folder, [good]), 0)
        self.assertEqual(keys.verify_version(folder, [other, good]), 1, "rotation: any key verifying is enough")
        with self.assertRaisesRegex(keys.SigningError, "no given public key verifies"):
            keys.verify_version(folder, [other])
        (folder / "manifest.json").write_bytes(b'{"version": "3", "files": [] }\n')
        with self.assertRaisesRegex(keys.SigningError, "no given public key verifies"):
            keys.verify_version(folder, [good])
        with self.assertRaisesRegex(keys.SigningError, "never replaced"):
            keys.sign_version(folder, keys.load_private_key(other_private))

    def test_signature_format(self) -> None:
        private_path, public_path = keys.generate(self.dir)
        manifest = b"{}"
        signature = keys.sign_manifest(manifest, keys.load_private_key(private_path))
        public = [keys.load_public_key(str(public_path))]
        self.assertEqual(keys.verify_manifest(manifest, signature.rstrip() + b" \r\n", public), 0)
        for bad, why in [(b" " + signature, "not base64"), (b"", "not base64|canonical"),
                         (base64.b64encode(b"x" * 63), "canonical base64 of 64"), (b"\xff", "not base64 text")]:
            with self.assertRaisesRegex(keys.SigningError, why):
                keys.verify_manifest(manifest, bad, public)

    def test_unsigned_version_and_bad_keys(self) -> None:
        folder = self.version()
        _, public_path = keys.generate(self.dir / "k")
        with self.assertRaisesRegex(keys.SigningError, "not signed"):
            keys.verify_version(folder, [keys.load_public_key(str(public_path))])
        with self.assertRaisesRegex(keys.SigningError, "canonical base64 of 32"):
            keys.load_public_key(base64.b64encode(b"x" * 31).decode())
        (self.dir / "not-a-key.pem").write_text("hello")
        with self.assertRaisesRegex(keys.SigningError, "not an unencrypted PEM"):
            keys.load_private_key(self.dir / "not-a-key.pem")

    def test_command_line(self) -> None:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            keys.main(["generate", "--out", str(self.dir / "k")])
        folder = self.version()
        with contextlib.redirect_stdout(out):
            keys.main(["sign", "--key", str(self.dir / "k" / keys.PRIVATE_KEY_NAME), str(folder)])
            keys.main(["verify", "--public-key", str(self.dir / "k" / keys.PUBLIC_KEY_NAME), str(folder)])
        self.assertIn("signature verified by public key", out.getvalue())
        keys.generate(self.dir / "other")
        with self.assertRaises(SystemExit) as failure:
            keys.main(["verify", "--public-key", str(self.dir / "other" / keys.PUBLIC_KEY_NAME), str(folder)])
        self.assertIn("no given public key verifies", str(failure.exception.code))


if __name__ == "__main__":
    unittest.main()
