"""Next-up recipe ablation: trains the LSTM once per setting on a dataset's
training split and reports the validation item's full-ranking HR@10 /
NDCG@10 (what early stopping uses), so the recipe is chosen without looking
at the test item.

    python -m models.next_up_ablation --dataset amazon-beauty [--only base,dim128]

Each user's last item is held out (never seen), the second-last is the
validation target. Settings are changes to the shipped defaults
(models/sequence/lstm.py); the table goes to stdout and, with --out, to a
file as it grows.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .build_eval_bundle import DATASETS, load_split
from .sequence import lstm

SETTINGS: dict[str, dict] = {
    "base": {},
    "dim128": {"dim": 128},
    "tied": {"tied": True},
    "dropout0.5": {"emb_dropout": 0.5},
    "dim128-dropout0.5": {"dim": 128, "emb_dropout": 0.5},
    "lr1e-3": {"lr": 1e-3},
    "batch512": {"batch_tokens": 512},  # the default before batches of 256
    "no-out-dropout": {"out_dropout": 0.0, "batch_tokens": 512},  # the defaults before output dropout
    "out-dropout0.2": {"out_dropout": 0.2},
    "out-dropout0.4": {"out_dropout": 0.4},
    "out-dropout0.6": {"out_dropout": 0.6},
    "wd1e-5": {"weight_decay": 1e-5},
    "full-softmax": {"negatives": None},  # the default samples 4,096 negatives above 16,384 items
    "patience6": {"patience": 6},
    "negatives8192": {"negatives": 8192},
    "batch512-negatives8192": {"batch_tokens": 512, "negatives": 8192},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=Path("models/.cache"))
    parser.add_argument("--only", help=f"comma-separated settings (default all: {', '.join(SETTINGS)})")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also append the table's rows here")
    args = parser.parse_args()

    names = args.only.split(",") if args.only else list(SETTINGS)
    unknown = [n for n in names if n not in SETTINGS]
    if unknown:
        parser.error(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    split = load_split(args.dataset, args.data_dir, args.cache)
    training, item_ids = split.training, split.item_ids

    header = "| setting | validation HR@10 | validation NDCG@10 | best epoch | seconds |\n|---|---|---|---|---|"
    print(f"\n{args.dataset}: {len(training)} users, {len(item_ids)} items\n\n{header}", flush=True)
    if args.out:
        with open(args.out, "a") as file:
            file.write(f"\n{args.dataset}\n\n{header}\n")
    for name in names:
        options = {"dim": 64, "max_len": 50, **SETTINGS[name]}
        started = time.time()
        model = lstm.train_next_up(training, len(item_ids), epochs=args.epochs, seed=args.seed, valid=True,
                                   max_seconds=args.max_seconds, log=lambda _: None, **options)
        line = (f"| {name} | {model.valid_hit_rate:.4f} | {model.valid_metric:.4f} | {model.best_epoch} "
                f"| {time.time() - started:.0f} |")
        print(line, flush=True)
        if args.out:
            with open(args.out, "a") as file:
                file.write(line + "\n")


if __name__ == "__main__":
    main()
