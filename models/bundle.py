"""Writes an edgerec bundle: immutable files plus manifest.json.

The manifest lists every file with its byte size and SHA-256, describes each
model's matrices, and carries the parity cases the engine re-runs on load.
The format is documented in docs/bundle-format.md; src/bundle/ reads it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

FORMAT = "edgerec-bundle/1"


# Item matrices are written as int8 with one f32 scale per row unless f32 is asked for.
MATRIX_DTYPES = ("i8", "f32")
DEFAULT_MATRIX_DTYPE = "i8"


def matrix_spec(file: str, matrix: np.ndarray, dtype: str = "f32") -> dict:
    rows, cols = matrix.shape
    return {"file": file, "rows": rows, "cols": cols, "dtype": dtype}


def matrix_bytes(matrix: np.ndarray) -> bytes:
    return np.ascontiguousarray(matrix, dtype="<f4").tobytes()


def quantize(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row as int8 values and one float32 scale, max |value| / 127
    (value = int8 x scale); all-zero rows get scale 0."""
    m = np.asarray(matrix, np.float32)
    scales = (np.abs(m).max(axis=1, initial=0.0) / np.float32(127)).astype(np.float32)
    divisor = np.where(scales > 0, scales, np.float32(1))[:, None]
    values = np.clip(np.rint(m / divisor), -127, 127).astype(np.int8)
    return values, scales


def item_matrix(name: str, matrix: np.ndarray, dtype: str) -> tuple[str, bytes, dict, np.ndarray]:
    """An item matrix as the bundle stores it: (file name, bytes, manifest spec,
    the float32 matrix the engine will score with). `i8`: `rows x cols` int8
    values, then `rows` little-endian float32 scales (docs/bundle-format.md)."""
    if dtype == "f32":
        matrix = np.ascontiguousarray(matrix, np.float32)
        return f"{name}.f32", matrix_bytes(matrix), matrix_spec(f"{name}.f32", matrix), matrix
    if dtype != "i8":
        raise ValueError(f"matrix dtype {dtype!r}: known are {', '.join(MATRIX_DTYPES)}")
    values, scales = quantize(matrix)
    data = values.tobytes() + scales.astype("<f4").tobytes()
    seen = values.astype(np.float32) * scales[:, None]
    return f"{name}.i8", data, matrix_spec(f"{name}.i8", seen, "i8"), seen


def read_item_matrix(folder: Path, spec: dict) -> np.ndarray:
    """A bundle's matrix as float32, whatever its dtype (the values the engine scores)."""
    data = (Path(folder) / spec["file"]).read_bytes()
    rows, cols = spec["rows"], spec["cols"]
    if spec["dtype"] == "f32":
        return np.frombuffer(data, "<f4").reshape(rows, cols).astype(np.float32)
    values = np.frombuffer(data[: rows * cols], np.int8).reshape(rows, cols)
    scales = np.frombuffer(data[rows * cols:], "<f4")
    return values.astype(np.float32) * scales[:, None]


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


def write_atomically(out_dir: Path, **bundle) -> Path:
    """Like write(), but into a temporary folder beside out_dir that is renamed into
    place at the end: out_dir is either the previous bundle or the complete new one,
    never half of one (an error or Ctrl-C removes the temporary folder). An existing
    out_dir is replaced only if it is a bundle (has a manifest.json) or empty."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir / "manifest.json").is_file() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} exists and is not a bundle: not replacing it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.{os.getpid()}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        write(staging, **bundle)
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.{os.getpid()}.old"
            os.rename(out_dir, old)
            os.rename(staging, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir / "manifest.json"


def json_bytes(value) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
