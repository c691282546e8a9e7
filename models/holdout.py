"""Splits a shop's events for an honest evaluation: each shopper's last basket is held out.

    python -m models.holdout --catalog C --events E --out DIR
    python -m models.train --catalog C --events DIR/train-events.csv --out build/bundles/eval ...
    cargo run --release --bin edgerec -- eval build/bundles/eval DIR/last-basket.txt

DIR/train-events.csv: every event except the held-out ones, in the input
format (docs/data-format.md), to train a bundle on.

DIR/last-basket.txt: one line per tested shopper, `shopper item ... | item ...`:
the distinct items they had before their last basket, oldest first and at
most the newest 50 (what the page's history holds), then the items of that
basket new to them (answers exclude the history, so those are what can be
hit). Shoppers with no earlier events, or nothing new in the basket, are not
tested. A shopper's last basket is their last order; with no baskets in the
data, their last event. The split is models.factors_sparse.holdout, the one
the training command uses to choose λ, with every shopper tested.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from . import data, factors_sparse


def write_split(catalog: data.Catalog, events: data.Events, out: Path, *, seed: int = 0) -> tuple[int, int]:
    """Writes train-events.csv and last-basket.txt; returns (training events, tested shoppers)."""
    spaced = next((i for i in catalog.ids if any(c.isspace() for c in i) or "|" in i), None)
    if spaced is not None:
        raise data.DataError(f"item id {spaced!r} has a space or `|`, which the evaluation file format cannot hold")
    held = factors_sparse.holdout(events, max_shoppers=len(events.shopper_ids), seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    ids = catalog.ids
    with open(out / "train-events.csv", "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["user", "session", "item", "timestamp", "type", "basket"])
        for e in np.flatnonzero(held.train):
            shopper = events.shopper_ids[events.shopper[e]]
            user, session = ("", shopper[len("session:"):]) if shopper.startswith("session:") else (shopper, "")
            basket = f"b{events.basket[e]}" if events.basket[e] >= 0 else ""
            writer.writerow([user, session, ids[events.item[e]], f"{events.time[e]:.3f}",
                             events.TYPES[events.kind[e]], basket])
    with open(out / "last-basket.txt", "w", encoding="utf-8") as file:
        for shopper, history, targets in zip(held.shoppers, held.histories, held.targets):
            name = "".join("_" if c.isspace() or c == "|" else c for c in events.shopper_ids[shopper])
            file.write(f"{name} {' '.join(ids[i] for i in history)} | {' '.join(ids[i] for i in targets)}\n")
    return int(held.train.sum()), len(held.histories)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        catalog = data.read_catalog(args.catalog)
        events = data.read_events(args.events, catalog)
        trained, tested = write_split(catalog, events, args.out)
    except data.DataError as error:
        sys.exit(f"holdout: {error}")
    if not tested:
        sys.exit("holdout: no shopper has events before a last basket with an item new to them: nothing to test")
    data.stderr_log(f"holdout: {trained:,} training events -> {args.out / 'train-events.csv'}; "
                    f"{tested:,} shoppers' last baskets -> {args.out / 'last-basket.txt'}")


if __name__ == "__main__":
    main()
