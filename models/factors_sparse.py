"""Sparse factor models for a shop's own events, and how well they fold in.

    interactions(events, n_items)            shoppers x items CSR: summed event weights, log1p
    fit_factors(csr, dim, engine="local")    -> (item_factors, item_embeddings), the one entry point
    holdout(events) / evaluate(...)          leave-last-basket-out HR@10 / NDCG@10 through the
                                             same numpy fold-in the engine runs (models/factors.py)

Nothing here is ever shoppers x items dense: the interaction matrix is CSR
(memory grows with events), the SVD works through sparse products with
(shoppers + items) x (dim + oversampling) dense blocks, ALS (`implicit`)
keeps one factor row per shopper and item.

Compare the methods on your data (docs/training.md has the numbers):

    python -m models.factors_sparse --catalog C --events E [--dim 32]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.sparse as sp

from . import data

HISTORY_LIMIT = 50  # the page keeps a shopper's newest 50 distinct items (www/lib/history.js)
EVAL_K = 10


def quiet(_: str) -> None:
    pass


# --------------------------------------------------------------------------
# The interaction matrix
# --------------------------------------------------------------------------


def interactions(shopper: np.ndarray, item: np.ndarray, weight: np.ndarray, n_shoppers: int, n_items: int,
                 transform: str = "log") -> sp.csr_matrix:
    """Shoppers x items CSR. Repeated events of a shopper on an item add their weights;
    the sum is then damped: "log" = log(1 + sum), "binary" = 1, "sum" = as is."""
    matrix = sp.csr_matrix((weight.astype(np.float32), (shopper, item)), shape=(n_shoppers, n_items),
                           dtype=np.float32)
    matrix.sum_duplicates()
    if transform == "log":
        np.log1p(matrix.data, out=matrix.data)
    elif transform == "binary":
        matrix.data[:] = 1.0
    elif transform != "sum":
        raise ValueError(f"unknown transform {transform!r}")
    return matrix


def events_matrix(events: data.Events, n_items: int, mask: np.ndarray | None = None,
                  weights: dict | None = None, transform: str = "log") -> sp.csr_matrix:
    pick = slice(None) if mask is None else mask
    return interactions(events.shopper[pick], events.item[pick], events.weights(weights)[pick],
                        len(events.shopper_ids), n_items, transform)


# --------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------


def orthonormalise(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """y = q r, q with orthonormal columns (Householder QR; Cholesky QR was no faster here)."""
    return np.linalg.qr(y)


def randomized_svd(matrix: sp.csr_matrix, rank: int, *, seed: int = 0, oversample: int = 16,
                   power_iterations: int = 4):
    """Top `rank` singular triplets of a sparse matrix (Halko, Martinsson & Tropp 2011),
    touching the matrix only through sparse x dense products. Returns (u, s, vt)."""
    rng = np.random.default_rng(seed)
    a = matrix.astype(np.float64)
    at = a.T.tocsr()
    width = min(rank + oversample, min(a.shape))
    q, _ = orthonormalise(a @ rng.standard_normal((a.shape[1], width)))
    for _ in range(power_iterations):  # sharpens the spectrum; each step re-orthonormalised
        q, _ = orthonormalise(at @ q)
        q, _ = orthonormalise(a @ q)
    # B = Qᵀ A; with Bᵀ = P R: B = Rᵀ Pᵀ, so the SVD of the small R gives B's.
    p, r = orthonormalise(at @ q)       # items x width, width x width
    ur, s, vrt = np.linalg.svd(r.T)     # Rᵀ = ur s vrt
    u = q @ ur
    vt = vrt @ p.T
    return u[:, :rank], s[:rank], vt[:rank]


def fit_svd(matrix: sp.csr_matrix, dim: int, embedding_dim: int, *, seed: int = 0, log=quiet):
    """Item factors V·√Σ (dim) for fold-in and embeddings V·Σ (embedding_dim) for cosine similar."""
    rank = min(max(dim, embedding_dim), min(matrix.shape))
    u, s, vt = randomized_svd(matrix, rank, seed=seed)
    signs = np.sign(vt[np.arange(len(s)), np.abs(vt).argmax(axis=1)])  # same bytes on a rerun
    signs[signs == 0] = 1
    vt = vt * signs[:, None]
    d, e = min(dim, len(s)), min(embedding_dim, len(s))
    item_factors = (vt[:d].T * np.sqrt(s[:d])).astype(np.float32)
    item_embeddings = (vt[:e].T * s[:e]).astype(np.float32)
    return item_factors, item_embeddings


ALS_DEFAULTS = {"alpha": 10.0, "regularization": 0.05, "iterations": 15}
# models/train.py tries these confidences on the held-out baskets unless --als-alpha is given:
# the best differs by data (1 on grocery baskets, 10-40 on sparse review logs; docs/training.md).
ALS_ALPHAS = (1.0, 10.0, 40.0)


def fit_als(matrix: sp.csr_matrix, dim: int, embedding_dim: int, *, seed: int = 0, log=quiet,
            alpha: float = ALS_DEFAULTS["alpha"], regularization: float = ALS_DEFAULTS["regularization"],
            iterations: int = ALS_DEFAULTS["iterations"]):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) by the `implicit` package: confidence
    1 + alpha·value. Its item factors serve both fold-in and (cosine) similar."""
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    dim = min(dim, min(matrix.shape))
    with threadpool_limits(1, "blas"):  # implicit parallelises itself; BLAS threads only contend
        model = AlternatingLeastSquares(factors=dim, regularization=regularization, alpha=alpha,
                                        iterations=iterations, random_state=seed,
                                        calculate_training_loss=False)
        model.fit(matrix.astype(np.float32).tocsr(), show_progress=False)
    item_factors = np.ascontiguousarray(model.item_factors, np.float32)
    return item_factors, item_factors


METHODS = {"svd": fit_svd, "als": fit_als}
DEFAULT_METHOD = "als"  # docs/training.md: measured against "svd" on three data sets


def fit_local(matrix, dim, embedding_dim, *, method=DEFAULT_METHOD, seed=0, log=quiet, **options):
    return METHODS[method](matrix, dim, embedding_dim, seed=seed, log=log, **options)


def fit_spark(matrix, dim, embedding_dim, *, method=None, seed=0, log=quiet, **options):
    """Spark MLlib's implicit ALS, locally (local[*]) or on a cluster: models/spark_factors.py.
    `method` does not apply; options: master, conf (Spark settings), alpha, regularization, iterations."""
    from . import spark_factors
    return spark_factors.fit_engine(matrix, dim, embedding_dim, seed=seed, log=log, **options)


# `--engine` names -> fit functions with fit_local's signature; models/train.py offers them.
ENGINES: dict[str, Callable] = {"local": fit_local, "spark": fit_spark}


def fit_factors(matrix: sp.csr_matrix, dim: int, *, embedding_dim: int = 64, engine: str = "local",
                method: str = DEFAULT_METHOD, seed: int = 0, log: Callable[[str], None] = quiet,
                **options) -> tuple[np.ndarray, np.ndarray]:
    """The factor step of training: shoppers x items CSR -> (item_factors (items x dim),
    item_embeddings (items x embedding_dim)), float32. Known-user factors, when a bundle
    has them at all, are folded in from these (models/train.py), so an engine only
    has to produce item-side matrices."""
    if engine not in ENGINES:
        raise ValueError(f"unknown factor engine {engine!r} (known: {', '.join(ENGINES)})")
    item_factors, item_embeddings = ENGINES[engine](matrix, dim, embedding_dim, method=method, seed=seed,
                                                    log=log, **options)
    for name, m in (("item factors", item_factors), ("item embeddings", item_embeddings)):
        if m.shape[0] != matrix.shape[1] or not np.isfinite(m).all():
            raise RuntimeError(f"{engine}/{method}: {name} have shape {m.shape} or non-finite values")
    return np.ascontiguousarray(item_factors, np.float32), np.ascontiguousarray(item_embeddings, np.float32)


# --------------------------------------------------------------------------
# Fold-in, batched: the engine's u = (VᵀV + λI)⁻¹ Vᵀ r for many shoppers at once
# --------------------------------------------------------------------------


def history_matrix(histories: list[np.ndarray], n_items: int) -> sp.csr_matrix:
    rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
    cols = np.concatenate(histories) if histories else np.zeros(0, np.int64)
    return sp.csr_matrix((np.ones(len(cols), np.float64), (rows, cols)), shape=(len(histories), n_items))


def fold_in_many(item_factors: np.ndarray, histories: sp.csr_matrix, regularisation: float) -> np.ndarray:
    v = item_factors.astype(np.float64)
    gram = v.T @ v + regularisation * np.eye(v.shape[1])
    return np.linalg.solve(gram, (histories @ v).T).T


def known_user_factors(item_factors: np.ndarray, histories: list[np.ndarray], regularisation: float):
    """Known users' factors, for research bundles: each one's fold-in over their training
    items, exactly what the engine computes for that history."""
    return fold_in_many(item_factors, history_matrix(histories, len(item_factors)),
                        regularisation).astype(np.float32)


# --------------------------------------------------------------------------
# Leave-last-basket-out evaluation
# --------------------------------------------------------------------------


@dataclass
class Holdout:
    train: np.ndarray            # bool per event: used for training
    histories: list[np.ndarray]  # per tested shopper: distinct items, oldest first, newest HISTORY_LIMIT
    targets: list[np.ndarray]    # per tested shopper: held-out items not in their history
    shoppers: np.ndarray         # rows of the tested shoppers
    protocol: str


def holdout(events: data.Events, *, max_shoppers: int = 5000, seed: int = 0) -> Holdout:
    """Each shopper's last basket (their last event when it has none) is held out;
    the history is what came before it, as the page would hold it (distinct items,
    newest 50). Targets are the held-out items not in that history, since answers
    exclude the history; shoppers with no such item are not tested."""
    order = events.order()
    shopper, item = events.shopper[order], events.item[order]
    basket, when = events.basket[order], events.time[order]
    n = len(events.shopper_ids)
    bounds = np.searchsorted(shopper, np.arange(n + 1))
    last = bounds[1:] - 1
    has = bounds[1:] > bounds[:-1]
    last_basket = np.where(has, basket[np.maximum(last, 0)], -1)
    in_last = (basket == last_basket[shopper]) & (basket >= 0)
    in_last[last[has]] = True  # the last event itself, basket or not
    # Training history is what happened before the held-out basket began.
    start = np.full(n, np.inf)
    np.minimum.at(start, shopper[in_last], when[in_last])
    test = when >= start[shopper]
    test |= in_last
    train_sorted = ~test
    trained = np.bincount(shopper[train_sorted], minlength=n) > 0
    # A shopper with nothing before the held-out basket keeps everything in training, untested.
    train_sorted |= ~trained[shopper]
    candidates = np.flatnonzero(trained & has)
    rng = np.random.default_rng(seed)
    if len(candidates) > max_shoppers:
        candidates = np.sort(rng.choice(candidates, max_shoppers, replace=False))
    histories, targets, tested = [], [], []
    for s in candidates:
        lo, hi = bounds[s], bounds[s + 1]
        seen = item[lo:hi][train_sorted[lo:hi]]
        # Distinct, ordered by last occurrence (the page moves a re-viewed item to the end).
        _, last_at = np.unique(seen[::-1], return_index=True)
        distinct = seen[::-1][np.sort(last_at)][::-1][-HISTORY_LIMIT:]
        held = np.setdiff1d(item[lo:hi][in_last[lo:hi]], distinct)
        if len(held):
            histories.append(distinct.astype(np.int64))
            targets.append(held.astype(np.int64))
            tested.append(s)
    train = np.zeros(len(order), bool)
    train[order] = train_sorted
    protocol = "last basket" if events.baskets else "last event"
    return Holdout(train, histories, targets, np.asarray(tested, np.int64), protocol)


def rank_metrics(score_rows: Callable[[slice, sp.csr_matrix], np.ndarray], held: Holdout, n_items: int,
                 k: int = EVAL_K, chunk: int = 512) -> tuple[float, float]:
    """HR@k (any held-out item in the top k) and NDCG@k (binary gains) over the tested shoppers."""
    if not held.histories:
        return float("nan"), float("nan")
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    hits, ndcg = 0, 0.0
    for a in range(0, len(held.histories), chunk):
        hist = history_matrix(held.histories[a:a + chunk], n_items)
        scores = score_rows(slice(a, a + chunk), hist).astype(np.float32)
        scores[hist.nonzero()] = -np.inf  # answers exclude the history
        top = np.argpartition(-scores, k, axis=1)[:, :k] if n_items > k else np.tile(np.arange(n_items), (len(scores), 1))
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), axis=1, kind="stable"), 1)
        for row, target in enumerate(held.targets[a:a + chunk]):
            gain = np.isin(top[row], target)
            hits += bool(gain.any())
            ndcg += float(gain @ discount[:len(gain)]) / float(discount[:min(len(target), k)].sum())
    return hits / len(held.histories), ndcg / len(held.histories)


def evaluate_fold_in(item_factors: np.ndarray, regularisation: float, held: Holdout) -> tuple[float, float]:
    v = item_factors.astype(np.float64)
    return rank_metrics(lambda _, hist: fold_in_many(v, hist, regularisation) @ v.T, held, len(v))


def evaluate_popularity(popularity: np.ndarray, held: Holdout) -> tuple[float, float]:
    return rank_metrics(lambda rows, hist: np.tile(popularity.astype(np.float32), (hist.shape[0], 1)),
                        held, len(popularity))


def lambda_grid(item_factors: np.ndarray) -> list[float]:
    """Fold-in regularisations to try, scaled to the factors: 1e-3 .. 10 x the mean diagonal of VᵀV."""
    scale = float(np.mean(np.sum(item_factors.astype(np.float64) ** 2, axis=0)))
    return [float(f"{scale * c:.3g}") for c in (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)]


def choose_lambda(item_factors: np.ndarray, held: Holdout, log=quiet) -> tuple[float, list]:
    """The grid's best λ by NDCG@10 on the held-out baskets, and the whole table."""
    table = []
    for lam in lambda_grid(item_factors):
        hr, ndcg = evaluate_fold_in(item_factors, lam, held)
        table.append((lam, hr, ndcg))
        log(f"    fold-in λ {lam:<10g} HR@10 {hr:.4f}  NDCG@10 {ndcg:.4f}")
    best = max(table, key=lambda row: (row[2], row[1]))
    return best[0], table


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------
# Comparison on your data
# --------------------------------------------------------------------------

VARIANTS = {
    "svd": ("svd", "log", {}),
    "svd-binary": ("svd", "binary", {}),
    "als": ("als", "log", {}),
    "als-a1": ("als", "log", {"alpha": 1.0}),
    "als-a40": ("als", "log", {"alpha": 40.0}),
    "als-binary": ("als", "binary", {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description="compare factor methods by fold-in quality and time")
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--variants", default="svd,svd-binary,als,als-a1,als-a40,als-binary")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    catalog = data.read_catalog(args.catalog)
    events = data.read_events(args.events, catalog)
    held = holdout(events, seed=args.seed)
    n_items = len(catalog)
    print(f"{len(events):,} events, {len(events.shopper_ids):,} shoppers, {n_items:,} items; "
          f"{len(held.histories):,} shoppers tested on their {held.protocol}, dim {args.dim}, "
          f"{os.cpu_count()} cores")
    popularity = np.bincount(events.item[held.train], minlength=n_items).astype(np.float64)
    hr, ndcg = evaluate_popularity(popularity, held)
    print(f"{'popularity':<12} {'':>8} {'':>10} HR@10 {hr:.4f}  NDCG@10 {ndcg:.4f}")
    for name in args.variants.split(","):
        method, transform, options = VARIANTS[name]
        matrix = events_matrix(events, n_items, held.train, transform=transform)
        started = time.perf_counter()
        factors, _ = fit_factors(matrix, args.dim, embedding_dim=args.dim, method=method, seed=args.seed,
                                 **options)
        seconds = time.perf_counter() - started
        lam, table = choose_lambda(factors, held)
        _, hr, ndcg = max(table, key=lambda row: (row[2], row[1]))
        print(f"{name:<12} {seconds:7.2f}s  λ {lam:<8g} HR@10 {hr:.4f}  NDCG@10 {ndcg:.4f}")


if __name__ == "__main__":
    main()
