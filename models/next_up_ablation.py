"""Next-up recipe ablation: trains the LSTM once per setting on a dataset's
training split and reports the validation item's full-ranking HR@10 /
NDCG@10 (what early stopping uses), so the recipe is chosen without looking
at the test item.

    python -m models.next_up_ablation --dataset amazon-beauty [--only base,dim128]

Each user's last item is held out (never seen), the second-last is the
validation target. Settings are changes to the shipped defaults
(models/sequence/lstm.py); the table goes to stdout and, with --out, to a
file as it grows.

--shifted measures the whole procedure instead, the refit on the validation
items included (which the validation measure cannot see): every training
sequence also loses its last item, that item becomes the target the
finished model is scored on (full ranking and 100 uniform negatives), and
training validates on the item before it.

    python -m models.next_up_ablation --dataset amazon-games --shifted --only base,no-refit
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

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
    "no-refit": {"refit": False},  # ship the best epoch's model, never trained on the validation items
    "dropout0.2": {"emb_dropout": 0.2},
    "dropout0.4": {"emb_dropout": 0.4},
    "batch128": {"batch_tokens": 128},
    "no-item-drop": {"item_drop": 0.0},  # the defaults before item drop
    "item-drop0.2": {"item_drop": 0.2},
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
    parser.add_argument("--shifted", action="store_true",
                        help="score the finished model on each training sequence's last item (held out)")
    args = parser.parse_args()

    names = args.only.split(",") if args.only else list(SETTINGS)
    unknown = [n for n in names if n not in SETTINGS]
    if unknown:
        parser.error(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    split = load_split(args.dataset, args.data_dir, args.cache)
    training, item_ids = split.training, split.item_ids
    targets = None
    if args.shifted:
        # Sequences of 3 or more keep 2 or more to train and validate on.
        targets = [(s[:-1], s[-1]) for s in training if len(s) >= 3]
        training = [s[:-1] if len(s) >= 3 else s for s in training]

    measured = "finished model on the held-out item" if args.shifted else "validation"
    header = (f"| setting | {measured} HR@10 | NDCG@10 | sampled HR@10 | sampled NDCG@10 | best epoch | seconds |"
              "\n|---|---|---|---|---|---|---|")
    print(f"\n{args.dataset}: {len(training)} users, {len(item_ids)} items\n\n{header}", flush=True)
    if args.out:
        with open(args.out, "a") as file:
            file.write(f"\n{args.dataset}{' (shifted)' if args.shifted else ''}\n\n{header}\n")
    for name in names:
        options = {"dim": 64, "max_len": 50, **SETTINGS[name]}
        if not args.shifted:
            options.setdefault("refit", False)  # the validation item measures the model before any refit
        started = time.time()
        model = lstm.train_next_up(training, len(item_ids), epochs=args.epochs, seed=args.seed, valid=True,
                                   max_seconds=args.max_seconds, log=lambda _: None, **options)
        seconds = time.time() - started
        if targets is None:
            full, sampled = (model.valid_hit_rate, model.valid_metric), model.valid_sampled
        else:
            full, sampled = score(model, targets, len(item_ids), args.seed)
        line = (f"| {name} | {full[0]:.4f} | {full[1]:.4f} | {sampled[0]:.4f} | {sampled[1]:.4f} "
                f"| {model.best_epoch} | {seconds:.0f} |")
        print(line, flush=True)
        if args.out:
            with open(args.out, "a") as file:
                file.write(line + "\n")


def score(model: lstm.NextUpModel, targets, n_items: int, seed: int, users: int = 10000):
    """(HR@10, NDCG@10) of the exported model on (history, target) pairs, full
    ranking and against 100 uniform negatives the user has not seen, for at
    most `users` of them (a fixed sample)."""
    rng = np.random.default_rng(seed + 29)
    if len(targets) > users:
        targets = [targets[i] for i in rng.choice(len(targets), users, replace=False)]
    histories = [history for history, _ in targets]
    wanted = np.asarray([target for _, target in targets])
    negatives = lstm.uniform_unseen(histories, wanted, n_items, 100, rng)
    queries = np.stack([lstm.onnx_query(model.onnx_bytes, history, model.max_len) for history in histories])
    scores = queries @ model.item_matrix.T
    own = scores[np.arange(len(wanted)), wanted]
    ranks = (scores > own[:, None]).sum(axis=1)
    sampled_ranks = (np.take_along_axis(scores, negatives, axis=1) > own[:, None]).sum(axis=1)
    return lstm.hr_ndcg_at_10(ranks), lstm.hr_ndcg_at_10(sampled_ranks)


if __name__ == "__main__":
    main()
