"""MovieLens-100K, read straight from the `recbole` wheel on PyPI.

The wheel is the only source: `pip download` fetches it from the package
registry into a local cache, and the two atomic files are read out of the zip
without unpacking anything else.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

RECBOLE_VERSION = "1.2.1"
WHEEL = f"recbole-{RECBOLE_VERSION}-py3-none-any.whl"
INTER = "recbole/dataset_example/ml-100k/ml-100k.inter"
ITEMS = "recbole/dataset_example/ml-100k/ml-100k.item"


@dataclass
class Item:
    id: str
    title: str
    categories: list[str]


@dataclass
class Interaction:
    user: str
    item: str
    rating: float
    timestamp: int


def fetch_wheel(cache_dir: Path) -> Path:
    wheel = cache_dir / WHEEL
    if not wheel.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        print(f"fetching {WHEEL} from PyPI into {cache_dir}", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             f"recbole=={RECBOLE_VERSION}", "-d", str(cache_dir)],
            check=True,
        )
    return wheel


def _rows(zf: zipfile.ZipFile, name: str) -> list[list[str]]:
    text = zf.read(name).decode("utf-8")
    lines = text.splitlines()[1:]  # first line is RecBole's typed header
    return [line.split("\t") for line in lines if line.strip()]


def user_sequences(interactions: list[Interaction]) -> tuple[list[str], list[list[str]]]:
    """User ids (by number) and each user's rated movie ids by time, ties by movie id."""
    by_user: dict[str, list[Interaction]] = {}
    for row in interactions:
        by_user.setdefault(row.user, []).append(row)
    users = sorted(by_user, key=int)
    return users, [[r.item for r in sorted(by_user[u], key=lambda r: (r.timestamp, int(r.item)))] for u in users]


def load(cache_dir: Path) -> tuple[list[Item], list[Interaction]]:
    """Items in id order and all 100,000 ratings."""
    with zipfile.ZipFile(fetch_wheel(cache_dir)) as zf:
        items = []
        for item_id, title, year, classes in _rows(zf, ITEMS):
            full_title = f"{title} ({year})" if year else title
            items.append(Item(item_id, full_title, classes.split()))
        items.sort(key=lambda item: int(item.id))
        interactions = [
            Interaction(user, item, float(rating), int(float(ts)))
            for user, item, rating, ts in _rows(zf, INTER)
        ]
    return items, interactions
