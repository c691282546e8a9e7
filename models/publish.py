"""Publishes a bundle to a channel: an immutable version folder plus one pointer.

A channel is a folder a static server serves as is:

    latest.json                  {"version": "2", "manifest": "versions/2/manifest.json"}
    versions/1/manifest.json …   one folder per version, never rewritten
    versions/2/manifest.json …

    python -m models.publish --channel models/channel/ml-100k build/ml-100k   # add + point
    python -m models.publish --channel models/channel/ml-100k --sign-key KEY build/ml-100k   # signed
    python -m models.publish --channel models/channel/ml-100k --point 1       # move the pointer
    python -m models.publish --channel models/channel/ml-100k --list

A new version is checked (every listed file present, sizes and SHA-256 right),
copied under a temporary name, signed there with --sign-key (manifest.sig, see
models/keys.py), and renamed into place; only then is the pointer replaced, by
write + rename, so a reader sees the old pointer or the new one and never a
version folder that is still being written. A failure on the way leaves no
version folder and no temporary one behind.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.bundle import FORMAT
from models.keys import SIGNATURE_NAME, SigningError, load_private_key, sign_manifest, verify_manifest

POINTER = "latest.json"
STOCK = "stock.json"
VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Bundle files sit directly in the version folder.
FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class PublishError(Exception):
    pass


def read_manifest(bundle_dir: Path) -> dict:
    path = bundle_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise PublishError(f"{path} does not exist: is {bundle_dir} a bundle?") from None
    except json.JSONDecodeError as error:
        raise PublishError(f"{path} is not JSON: {error}") from None
    if manifest.get("format") != FORMAT:
        raise PublishError(f"{path}: format is {manifest.get('format')!r}, expected {FORMAT!r}")
    version = manifest.get("version")
    if not isinstance(version, str) or not VERSION_NAME.match(version):
        raise PublishError(f"{path}: version {version!r} is not a usable folder name")
    return manifest


def check_files(bundle_dir: Path, manifest: dict) -> None:
    for entry in manifest.get("files", []):
        if not isinstance(entry.get("path"), str) or not FILE_NAME.match(entry["path"]):
            raise PublishError(f"{bundle_dir}/manifest.json: file path {entry.get('path')!r} is not a plain file name")
        path = bundle_dir / entry["path"]
        if not path.is_file():
            raise PublishError(f"{path} is listed in the manifest but missing")
        data = path.read_bytes()
        if len(data) != entry["bytes"]:
            raise PublishError(f"{path}: {len(data)} bytes, the manifest says {entry['bytes']}")
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise PublishError(f"{path}: SHA-256 differs from the manifest")


def sync_file(path: Path) -> None:
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def sync_folder(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def point(channel: Path, version: str) -> None:
    if not (channel / "versions" / version / "manifest.json").is_file():
        raise PublishError(f"{channel}/versions/{version} is not a published version")
    pointer = {"version": version, "manifest": f"versions/{version}/manifest.json"}
    if (channel / STOCK).is_file():
        pointer["stock"] = STOCK  # pages read a stock file only when the pointer names it
    write_atomically(channel / POINTER, (json.dumps(pointer, indent=1) + "\n").encode())


def publish(channel: Path, bundle_dir: Path, *, move_pointer: bool = True, sign_key: Path | None = None) -> str:
    # Everything that can be refused is refused before anything is written.
    try:
        key = load_private_key(sign_key) if sign_key else None
    except SigningError as error:
        raise PublishError(f"--sign-key: {error}") from None
    manifest = read_manifest(bundle_dir)
    check_files(bundle_dir, manifest)
    version = manifest["version"]
    target = channel / "versions" / version
    if target.exists():
        raise PublishError(f"{target} exists: versions are immutable, build with a new --version")
    staging = channel / "versions" / f".{version}.{os.getpid()}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        fill_version(staging, bundle_dir, manifest, key)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    sync_folder(target.parent)
    if move_pointer:
        point(channel, version)
    return version


def publish_stock(channel: Path, stock_file: Path, *, sign_key: Path | None = None) -> dict:
    """Checks a live stock file ({"out_of_stock": [ids], "overrides": {id: {attribute: value}}})
    and writes it to the channel as stock.json (signed as stock.sig with sign_key), atomically.
    Pages apply it to every answer within their stockEvery; no new model version."""
    try:
        stock = json.loads(Path(stock_file).read_text())
    except (OSError, ValueError) as error:
        raise PublishError(f"--stock {stock_file}: {error}") from None
    if not isinstance(stock, dict) or set(stock) - {"out_of_stock", "overrides"}:
        raise PublishError(f"--stock {stock_file}: expected {{\"out_of_stock\": [...], \"overrides\": {{...}}}}")
    out = stock.get("out_of_stock", [])
    overrides = stock.get("overrides", {})
    if not isinstance(out, list) or not all(isinstance(i, str) for i in out):
        raise PublishError(f"--stock {stock_file}: out_of_stock must be a list of item ids")
    scalar = (str, int, float, bool)
    if not isinstance(overrides, dict) or not all(
            isinstance(f, dict) and all(n not in ("id", "category") and isinstance(v, scalar) for n, v in f.items())
            for f in overrides.values()):
        raise PublishError(f"--stock {stock_file}: overrides must map ids to {{attribute: text, number or true/false}}")
    data = (json.dumps({"out_of_stock": out, "overrides": overrides}, separators=(",", ":")) + "\n").encode()
    channel.mkdir(parents=True, exist_ok=True)
    if sign_key:
        try:
            signature = sign_manifest(data, load_private_key(sign_key))
        except SigningError as error:
            raise PublishError(f"--sign-key: {error}") from None
        write_atomically(channel / "stock.sig", signature)
    write_atomically(channel / STOCK, data)
    live = current(channel)
    if live:
        point(channel, live)  # names the stock file, so pages start reading it
    return {"out_of_stock": len(out), "overrides": len(overrides)}


def fill_version(staging: Path, bundle_dir: Path, manifest: dict, key: Ed25519PrivateKey | None) -> None:
    """Copies the bundle into the staging folder, signs it, and makes it durable before the rename."""
    for entry in manifest["files"]:
        shutil.copyfile(bundle_dir / entry["path"], staging / entry["path"])
        sync_file(staging / entry["path"])
    manifest_bytes = (bundle_dir / "manifest.json").read_bytes()
    (staging / "manifest.json").write_bytes(manifest_bytes)
    sync_file(staging / "manifest.json")
    if key is not None:
        signature = sign_manifest(manifest_bytes, key)
        # A signature the published key would not verify must never reach a channel.
        verify_manifest(manifest_bytes, signature, [key.public_key()])
        (staging / SIGNATURE_NAME).write_bytes(signature)
        sync_file(staging / SIGNATURE_NAME)
    sync_folder(staging)


def versions(channel: Path) -> list[str]:
    folder = channel / "versions"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".") and (p / "manifest.json").is_file())


def current(channel: Path) -> str | None:
    try:
        return json.loads((channel / POINTER).read_bytes())["version"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channel", type=Path, required=True, help="channel folder (created if missing)")
    parser.add_argument("bundle", type=Path, nargs="?", help="a bundle folder built by the pipeline")
    parser.add_argument("--point", metavar="VERSION", help="point the channel at a published version")
    parser.add_argument("--no-point", action="store_true", help="publish without moving the pointer")
    parser.add_argument("--sign-key", type=Path, metavar="KEY",
                        help="sign the new version with this private key (python -m models.keys generate)")
    parser.add_argument("--list", action="store_true", help="list published versions")
    parser.add_argument("--stock", type=Path, metavar="FILE",
                        help="write this live stock file (out_of_stock ids, attribute overrides) as the channel's "
                             "stock.json; signed with --sign-key")
    args = parser.parse_args()
    if args.sign_key and not (args.bundle or args.stock):
        parser.error("--sign-key signs a new version or a stock file: give the bundle folder or --stock too")
    try:
        if args.bundle:
            version = publish(args.channel, args.bundle, move_pointer=not args.no_point, sign_key=args.sign_key)
            signed = " (signed)" if args.sign_key else ""
            print(f"published {args.channel}/versions/{version}{signed}")
        if args.stock:
            counts = publish_stock(args.channel, args.stock, sign_key=args.sign_key)
            print(f"{args.channel}/{STOCK}: {counts['out_of_stock']} out of stock, {counts['overrides']} overrides"
                  f"{' (signed)' if args.sign_key else ''}")
        if args.point:
            point(args.channel, args.point)
        if args.bundle or args.point:
            print(f"{args.channel}/{POINTER} -> {current(args.channel)}")
        if args.list or not (args.bundle or args.point or args.stock):
            live = current(args.channel)
            for version in versions(args.channel):
                print(f"{version}{'  <- latest' if version == live else ''}")
    except PublishError as error:
        sys.exit(f"publish: {error}")


if __name__ == "__main__":
    main()
