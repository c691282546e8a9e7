"""A synthetic shop of any size, published into a channel, for benchmarks at
catalog sizes no dataset here has: random item vectors for similar items and
for you, random popularity for trending, and an untrained LSTM of the
shipped shape for next up. Its answers
mean nothing; its files, sizes and code paths are a real bundle's (int8 item
matrices, parity cases from numpy and onnxruntime).

    python -m models.synthetic --items 1000000 --channel build/channels/synthetic-1m

An existing channel holding a version of the same size is kept (building
1,000,000 items takes about 25 s on 2 cores and writes 550 MB).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

import numpy as np

from . import data, publish, train
from .sequence import lstm

DIM = 64
MAX_LEN = 50
CATEGORIES = 50


def build(items: int, out: Path, *, dim: int = DIM, seed: int = 0) -> Path:
    """Writes a synthetic bundle of `items` items to `out`; returns its manifest's path."""
    rng = np.random.default_rng(seed)
    # Popularity: all-time counts, and trending as a random share of them.
    popularity = rng.integers(0, 50, items).astype(np.float32)
    trending = np.stack([popularity * rng.random(items, dtype=np.float32), popularity], axis=1)
    catalog = data.Catalog(
        items=[data.Item(id=f"sku-{i:07d}", title=f"Synthetic product {i}", categories=[f"department {i % CATEGORIES}"])
               for i in range(items)],
        report=data.FileReport(path=Path("synthetic")))
    return train.write_bundle(
        out, catalog=catalog, name=f"synthetic-{items}", version="1",
        created=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        item_embeddings=rng.standard_normal((items, dim), np.float32),
        item_factors=rng.standard_normal((items, dim), np.float32) * 0.1, fold_in_lambda=10.0,
        popular=list(range(min(items, 1000))), next_up_model=lstm.untrained(items, dim, MAX_LEN, seed), seed=seed,
        trending=trending)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, required=True, help="catalog size (at least 100)")
    parser.add_argument("--channel", type=Path, required=True, help="the channel folder to publish into")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.items < 100:
        parser.error(f"--items must be at least 100 (the parity cases draw from the first items), got {args.items}")
    current = publish.current(args.channel) if args.channel.exists() else None
    if current is not None:
        manifest = publish.read_manifest(args.channel / "versions" / current)
        if manifest.get("item_count") == args.items:
            print(f"{args.channel}: version {current} already has {args.items} items; kept")
            return
        sys.exit(f"{args.channel} holds a bundle of {manifest.get('item_count')} items: remove it first")
    args.channel.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.channel.parent) as work:
        bundle_dir = Path(work) / "bundle"
        print(f"building a synthetic bundle of {args.items:,} items ...", flush=True)
        build(args.items, bundle_dir, seed=args.seed)
        version = publish.publish(args.channel, bundle_dir)
    print(f"published {args.channel}/versions/{version}")


if __name__ == "__main__":
    main()
