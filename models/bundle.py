"""Writes an edgerec bundle: immutable files plus manifest.json.

The manifest lists every file with its byte size and SHA-256, describes each
model's matrices, and carries the parity cases the engine re-runs on load.
The format is documented in docs/bundle-format.md; src/bundle/ reads it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

FORMAT = "edgerec-bundle/1"


def matrix_spec(file: str, matrix: np.ndarray) -> dict:
    rows, cols = matrix.shape
    return {"file": file, "rows": rows, "cols": cols, "dtype": "f32"}


def matrix_bytes(matrix: np.ndarray) -> bytes:
    return np.ascontiguousarray(matrix, dtype="<f4").tobytes()


def write(out_dir: Path, *, name: str, version: str, created: str, item_count: int,
          files: dict[str, bytes], models: dict, parity: dict) -> Path:
    """Writes the files and then the manifest, so a manifest never names a missing file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for path, data in sorted(files.items()):
        (out_dir / path).write_bytes(data)
        entries.append({"path": path, "bytes": len(data),
                        "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {
        "format": FORMAT,
        "name": name,
        "version": version,
        "created": created,
        "item_count": item_count,
        "files": entries,
        "models": models,
        "parity": parity,
    }
    manifest_path = out_dir / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest_path


def json_bytes(value) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
