"""Ed25519 keys for signed channels: make a key pair, sign and check manifest.json.

    python -m models.keys generate --out ~/.edgerec-keys
        edgerec-signing.key  private key (PEM, PKCS#8), mode 0600: keep it off the web server
        edgerec-signing.pub  public key, base64 of its 32 raw bytes: what EdgeRec.open({ publicKeys }) pins
    python -m models.keys verify --public-key ~/.edgerec-keys/edgerec-signing.pub models/channel/shop/versions/3/
    python -m models.keys sign --key ~/.edgerec-keys/edgerec-signing.key models/channel/shop/versions/3/

A version is signed by `versions/<v>/manifest.sig`: the base64 of the 64-byte
Ed25519 signature over the exact bytes of manifest.json, and a newline.
Signing the manifest covers every file, since it lists each file's SHA-256.
`models.publish --sign-key` signs while publishing; `sign` is for a version
published before the channel was signed. `verify` accepts several
`--public-key`s (rotation): one verifying is enough.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import os
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PRIVATE_KEY_NAME = "edgerec-signing.key"
PUBLIC_KEY_NAME = "edgerec-signing.pub"
SIGNATURE_NAME = "manifest.sig"
MANIFEST_NAME = "manifest.json"


class SigningError(Exception):
    pass


def decode_base64(text: str, length: int, what: str) -> bytes:
    """Canonical, padded standard base64 of exactly `length` bytes (what browsers and the engine accept)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SigningError(f"{what} is not base64") from None
    if len(raw) != length or base64.b64encode(raw).decode() != text:
        raise SigningError(f"{what} is not the canonical base64 of {length} bytes")
    return raw


def public_key_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def generate(out: Path) -> tuple[Path, Path]:
    """Writes a new key pair into `out`; refuses to replace an existing key."""
    out.mkdir(parents=True, exist_ok=True)
    private_path, public_path = out / PRIVATE_KEY_NAME, out / PUBLIC_KEY_NAME
    for path in (private_path, public_path):
        if path.exists():
            raise SigningError(f"{path} exists: refusing to overwrite a key (pages may pin it)")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # Created with mode 0600 from the start, never readable by others even briefly.
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out_file:
        out_file.write(pem)
    public_path.write_text(public_key_text(key.public_key()) + "\n")
    return private_path, public_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise SigningError(f"{path} does not exist") from None
    except (ValueError, TypeError) as error:
        raise SigningError(f"{path} is not an unencrypted PEM private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path} is not an Ed25519 key")
    return key


def load_public_key(value: str) -> Ed25519PublicKey:
    """A public key given as a file (edgerec-signing.pub) or as its base64 text."""
    path = Path(value)
    text = path.read_text().strip() if path.is_file() else value.strip()
    return Ed25519PublicKey.from_public_bytes(decode_base64(text, 32, f"public key {value!r}"))


def sign_manifest(manifest: bytes, key: Ed25519PrivateKey) -> bytes:
    """The manifest.sig file for these manifest bytes."""
    return base64.b64encode(key.sign(manifest)) + b"\n"


def verify_manifest(manifest: bytes, signature_file: bytes, keys: list[Ed25519PublicKey]) -> int:
    """Index of the first key that verifies; SigningError when none does."""
    if not keys:
        raise SigningError("no public key to verify with")
    try:
        text = signature_file.decode("ascii").rstrip()
    except UnicodeDecodeError:
        raise SigningError(f"{SIGNATURE_NAME} is not base64 text") from None
    signature = decode_base64(text, 64, SIGNATURE_NAME)
    for index, key in enumerate(keys):
        try:
            key.verify(signature, manifest)
            return index
        except InvalidSignature:
            continue
    raise SigningError(f"no given public key verifies {SIGNATURE_NAME} (wrong key, or manifest.json changed after signing)")


def verify_version(folder: Path, keys: list[Ed25519PublicKey]) -> int:
    try:
        manifest = (folder / MANIFEST_NAME).read_bytes()
    except FileNotFoundError:
        raise SigningError(f"{folder / MANIFEST_NAME} does not exist") from None
    try:
        signature = (folder / SIGNATURE_NAME).read_bytes()
    except FileNotFoundError:
        raise SigningError(f"{folder / SIGNATURE_NAME} does not exist: the version is not signed") from None
    return verify_manifest(manifest, signature, keys)


def write_new_file(path: Path, data: bytes) -> None:
    """Writes `data` to a new file by write + rename: readers see no file or the whole file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    try:
        # link() fails if `path` appeared meanwhile, where rename() would replace it.
        os.link(temporary, path)
    except FileExistsError:
        raise SigningError(f"{path} exists: a published version's signature is never replaced") from None
    finally:
        temporary.unlink()


def sign_version(folder: Path, key: Ed25519PrivateKey) -> Path:
    """Signs an already published version folder that has no signature yet."""
    target = folder / SIGNATURE_NAME
    if target.exists():
        raise SigningError(f"{target} exists: a published version's signature is never replaced")
    try:
        manifest = (folder / MANIFEST_NAME).read_bytes()
    except FileNotFoundError:
        raise SigningError(f"{folder / MANIFEST_NAME} does not exist") from None
    write_new_file(target, sign_manifest(manifest, key))
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    generate_args = commands.add_parser("generate", help="make a key pair")
    generate_args.add_argument("--out", type=Path, required=True, help="folder for the two key files")
    verify_args = commands.add_parser("verify", help="check a version's manifest.sig")
    verify_args.add_argument("--public-key", action="append", required=True,
                             help="a .pub file or base64 key; repeat for several (one verifying is enough)")
    verify_args.add_argument("version", type=Path, help="a version folder (holding manifest.json and manifest.sig)")
    sign_args = commands.add_parser("sign", help="sign a published version that has no manifest.sig")
    sign_args.add_argument("--key", type=Path, required=True, help="the private key (edgerec-signing.key)")
    sign_args.add_argument("version", type=Path, help="a version folder")
    args = parser.parse_args(argv)
    try:
        if args.command == "generate":
            private_path, public_path = generate(args.out)
            print(f"private key: {private_path} (keep it secret, off the web server)")
            print(f"public key:  {public_path}: {public_path.read_text().strip()}")
        elif args.command == "verify":
            keys = [load_public_key(value) for value in args.public_key]
            index = verify_version(args.version, keys)
            print(f"{args.version}: signature verified by public key {public_key_text(keys[index])}")
        else:
            print(f"signed: {sign_version(args.version, load_private_key(args.key))}")
    except SigningError as error:
        sys.exit(f"keys: {error}")


if __name__ == "__main__":
    main()
