"""Builds a "next up" bundle from a public sequence dataset, for evaluation.

    python -m models.build_eval_bundle --dataset amazon-games --out build/bundles/amazon-games
    cargo run --profile tools --bin edgerec -- eval build/bundles/amazon-games \\
        ../shared/data/amazon-games/interactions.txt

    python -m models.build_eval_bundle --dataset amazon-beauty --shop-files build/amazon-beauty-split
    python -m models.train --catalog build/amazon-beauty-split/catalog.csv \
        --events build/amazon-beauty-split/events.csv --out build/bundles/amazon-beauty-shop --no-next-up

The second form writes the same training split in the shop input format
(docs/data-format.md) and trains nothing, so the shop pipeline's similar
items and fold-in "for you" are measured on the split the LSTM is.

Leave-one-out, as the published results do: each user's last item is the
test item and is never seen in training; the second-last is the validation
item for early stopping. Data files are read from --data-dir (default
../shared/data) and never copied into the project.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import time
from pathlib import Path

from . import bundle, movielens, next_up

DATASETS = {
    "amazon-games": "amazon-games/interactions.txt",   # `user item` per line
    "amazon-beauty": "amazon-beauty/sequences.txt",    # `user item item ...` per line
    "ml-100k": None,  # the demo's MovieLens-100K, from the recbole wheel (models/movielens.py)
}


def read_sequences(path: Path) -> list[list[str]]:
    """Per-user item-id sequences in file order (both formats)."""
    by_user: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields:
            by_user.setdefault(fields[0], []).extend(fields[1:])
    return list(by_user.values())


SPLIT_EPOCH = 1_600_000_000  # the synthetic events' first timestamp (2020-09-13)


def write_shop_files(out: Path, item_ids: list[str], raw: list[list[str]]) -> None:
    """The training split (each user's last item held out) as shop input files: one
    event an hour per user, in sequence order, so the order is what it was."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "catalog.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "title", "categories"])
        writer.writerows([item, f"item {item}", ""] for item in item_ids)
    events = 0
    with open(out / "events.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["user", "item", "timestamp"])
        for user, seq in enumerate(raw, start=1):
            for step, item in enumerate(seq[:-1]):
                writer.writerow([user, item, SPLIT_EPOCH + 3600 * step])
                events += 1
    print(f"wrote {out}/catalog.csv and events.csv: {events} training events (each user's last item held out)")


def movielens_sequences(cache: Path) -> list[list[str]]:
    """Each MovieLens user's rated movies by time, users by id (as the demo bundle reads them)."""
    return movielens.user_sequences(movielens.load(cache)[1])[1]


def write_sequences(path: Path, raw: list[list[str]]) -> None:
    """`user item item ...` lines, the form `edgerec eval` reads."""
    path.write_text("".join(f"{user} {' '.join(seq)}\n" for user, seq in enumerate(raw, start=1)))


@dataclasses.dataclass
class Split:
    """A dataset's users (raw ids, oldest first), its items, and the training
    sequences (catalog rows, each user's test item held out)."""
    path: Path
    raw: list[list[str]]
    item_ids: list[str]
    training: list[list[int]]


def load_split(dataset: str, data_dir: Path, cache: Path) -> Split:
    """ml-100k's sequences are also written to cache/sequences.txt, what `edgerec eval` reads."""
    if DATASETS[dataset] is None:
        path = cache / "sequences.txt"
        raw = movielens_sequences(cache)
        write_sequences(path, raw)
    else:
        path = data_dir / DATASETS[dataset]
        raw = read_sequences(path)
    item_ids = sorted({item for seq in raw for item in seq}, key=lambda i: (len(i), i))
    row = {item: i for i, item in enumerate(item_ids)}
    # Hold out each user's test item: training never sees it.
    training = [[row[i] for i in seq[:-1]] for seq in raw if len(seq) >= 2]
    return Split(path, raw, item_ids, training)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=Path("models/.cache"),
                        help="ml-100k: where the recbole wheel is cached; its sequences.txt is written there")
    parser.add_argument("--out", type=Path, help="the next-up bundle to write")
    parser.add_argument("--shop-files", type=Path, metavar="DIR",
                        help="write the training split as DIR/catalog.csv and DIR/events.csv (models.train's "
                             "input) instead of training")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=40, help="upper bound; early stopping decides")
    parser.add_argument("--max-seconds", type=float, default=900, help="training time budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--matrix-dtype", choices=bundle.MATRIX_DTYPES, default=bundle.DEFAULT_MATRIX_DTYPE,
                        help="how the item matrix is stored (default i8)")
    parser.add_argument("--also-f32", type=Path, metavar="DIR",
                        help="also write the same trained model with an f32 item matrix to DIR (to compare)")
    args = parser.parse_args()

    started = time.time()
    split = load_split(args.dataset, args.data_dir, args.cache)
    path, raw, item_ids, training = split.path, split.raw, split.item_ids, split.training
    print(f"{args.dataset}: {len(raw)} users, {len(item_ids)} items, "
          f"{sum(len(s) for s in raw)} interactions from {path}")
    if args.shop_files:
        write_shop_files(args.shop_files, item_ids, raw)
        return
    if args.out is None:
        parser.error("--out (a bundle to train) or --shop-files (the split, untrained) is needed")

    files, spec, cases, model = next_up.build(
        training, item_ids, max_len=args.max_len, dim=args.dim, epochs=args.epochs, seed=args.seed,
        parity_k=10, max_seconds=args.max_seconds, matrix_dtype=args.matrix_dtype)
    catalog = bundle.json_bytes(
        {"items": [{"id": item, "title": f"item {item}", "categories": []} for item in item_ids]})
    created = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()

    def write(out, files, spec, cases):
        return bundle.write(
            out, name=args.dataset, version=f"eval-seed{args.seed}", created=created,
            item_count=len(item_ids), files={**files, "catalog.json": catalog}, models={"next_up": spec},
            parity={"k": 10, "tolerance": 1e-4, "cases": cases})

    manifest = write(args.out, files, spec, cases)
    print(f"next_up: trained in {model.train_seconds:.0f} s (best epoch {model.best_epoch}, "
          f"validation NDCG@10 {model.valid_metric:.4f}); wrote {manifest} in {time.time() - started:.0f} s")
    if args.also_f32:
        print(f"and with an f32 item matrix: {write(args.also_f32, *next_up.package(model, training, item_ids, parity_k=10, seed=args.seed, matrix_dtype='f32'))}")


if __name__ == "__main__":
    main()
