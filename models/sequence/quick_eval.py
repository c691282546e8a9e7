"""Leave-one-out evaluation of the next-item LSTM on the shared datasets.

    python -m models.sequence.quick_eval --data games    # 100 sampled negatives
    python -m models.sequence.quick_eval --data beauty   # full ranking

Protocol (SASRec): per user the last item is the test item and the
second-last the validation item; users with fewer than 3 interactions are
trained on but not evaluated.  The model is trained with valid=True on each
sequence without its test item (train_next_up holds out the validation item
itself), and the test item is ranked from the query of the exported ONNX
graph (onnxruntime) for the history = sequence without the test item.

games:  the test item is ranked against 100 negatives drawn uniformly (with
        replacement, fixed seed) from items the user never interacted with.
beauty: the test item is ranked against the whole catalogue, reported both
        unmasked and with the user's other history items masked out.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .lstm import onnx_query, train_next_up

DATA = Path("/work/shared/data")


def load(name: str) -> tuple[list[list[int]], int]:
    """Returns per-user chronological sequences of 0-based item indices, n_items."""
    seqs: list[list[int]] = []
    if name == "games":
        last = None
        with open(DATA / "amazon-games/interactions.txt") as f:
            for line in f:
                u, i = line.split()
                if u != last:
                    seqs.append([])
                    last = u
                seqs[-1].append(int(i) - 1)
    elif name == "beauty":
        with open(DATA / "amazon-beauty/sequences.txt") as f:
            for line in f:
                parts = line.split()
                if parts:
                    seqs.append([int(x) - 1 for x in parts[1:]])
    else:
        raise ValueError(name)
    n_items = 1 + max(max(s) for s in seqs if s)
    return seqs, n_items


def metrics(ranks: np.ndarray) -> tuple[float, float]:
    hit = ranks < 10
    return float(hit.mean()), float(np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", choices=["games", "beauty"], required=True)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--batch-tokens", type=int, default=None)
    ap.add_argument("--emb-dropout", type=float, default=None)
    ap.add_argument("--out-dropout", type=float, default=None)
    ap.add_argument("--wd", type=float, default=None)
    ap.add_argument("--tied", action="store_true", default=None)
    ap.add_argument("--patience", type=int, default=None)
    ap.add_argument("--negatives", type=int, default=None, help="sampled softmax size (0 = full)")
    ap.add_argument("--max-seconds", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-seed", type=int, default=42)
    args = ap.parse_args()

    seqs, n_items = load(args.data)
    train_in = [s[:-1] if len(s) >= 3 else s for s in seqs]
    kw = {
        k: v
        for k, v in dict(
            lr=args.lr,
            batch_tokens=args.batch_tokens,
            emb_dropout=args.emb_dropout,
            out_dropout=args.out_dropout,
            weight_decay=args.wd,
            tied=args.tied,
            patience=args.patience,
            negatives=args.negatives,
            max_seconds=args.max_seconds,
        ).items()
        if v is not None
    }
    model = train_next_up(
        train_in, n_items, max_len=args.max_len, dim=args.dim, epochs=args.epochs,
        seed=args.seed, valid=True, **kw,
    )
    print(f"trained in {model.train_seconds:.0f}s, best epoch {model.best_epoch}, "
          f"valid NDCG@10 {model.valid_metric:.4f}, onnx {len(model.onnx_bytes)} bytes")

    t0 = time.time()
    users = [u for u, s in enumerate(seqs) if len(s) >= 3]
    M = model.item_matrix
    Q = np.stack([onnx_query(model.onnx_bytes, seqs[u][:-1], model.max_len) for u in users])
    tgt = np.array([seqs[u][-1] for u in users])
    full_unmasked = np.empty(len(users), np.int64)
    full_masked = np.empty(len(users), np.int64)
    sranks = np.empty(len(users), np.int64)
    rng = np.random.default_rng(args.eval_seed)
    for a in range(0, len(users), 2048):
        scores = Q[a : a + 2048] @ M.T
        for j in range(len(scores)):
            r, u = a + j, users[a + j]
            sc = scores[j]
            ts = sc[tgt[r]]
            full_unmasked[r] = (sc > ts).sum()
            hist = np.asarray(seqs[u][:-1])
            hist = hist[hist != tgt[r]]
            full_masked[r] = full_unmasked[r] - (sc[np.unique(hist)] > ts).sum()
            if args.data == "games":
                seen = set(seqs[u])
                neg = []
                while len(neg) < 100:
                    k = int(rng.integers(0, n_items))
                    if k not in seen:
                        neg.append(k)
                sranks[r] = (sc[neg] > ts).sum()
    res = {
        "data": args.data,
        "users": len(users),
        "train_seconds": round(model.train_seconds, 1),
        "best_epoch": model.best_epoch,
        "valid_ndcg10": round(model.valid_metric, 4),
        "full_unmasked": [round(x, 4) for x in metrics(full_unmasked)],
        "full_masked": [round(x, 4) for x in metrics(full_masked)],
    }
    if args.data == "games":
        res["sampled100"] = [round(x, 4) for x in metrics(sranks)]
    res["eval_seconds"] = round(time.time() - t0, 1)
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main()
