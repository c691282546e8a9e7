"""Trains a bundle from a shop's own catalog and events.

    python -m models.train --catalog catalog.csv --events events.csv --out build/bundles/shop
    make train CATALOG=catalog.csv EVENTS=events.csv OUT=build/bundles/shop

Reads and validates both files and prints a data report (docs/data-format.md);
stops with a message naming the problem when they cannot be trained on. Then:
the sparse interaction matrix (event weights summed per shopper and item),
factors by a sparse method (docs/training.md), fold-in regularisation chosen
on each shopper's held-out last basket, the "next up" LSTM over each
shopper's items in time order, parity cases computed by the reference
implementations (numpy, onnxruntime), and the bundle, written to a
temporary folder and renamed into place at the end. Search needs nothing:
the engine indexes the catalog's titles and categories itself.

The bundle carries no shopper's data: no user ids, histories or factors (the
parity histories are made up from popular items). `--include-known-users`
adds them, for public research data only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import bundle, content, data, factors, factors_sparse, next_up
from .sequence import lstm

PARITY_K = 10
PARITY_TOLERANCE = 1e-4
DEFAULT_NOTICE = ("public research data: this bundle names its training users and holds their items and "
                  "factors; never publish a shop's own shoppers this way")


HEARTBEAT_SECONDS = 10
_last_output = [time.monotonic()]


def log(message: str) -> None:
    print(message, flush=True)
    _last_output[0] = time.monotonic()


@contextmanager
def step(name: str, timings: list):
    """Prints a step's start, then a line every HEARTBEAT_SECONDS in which nothing
    else was printed (an LSTM epoch on a big shop takes minutes), and at the end the
    step's time and the process's peak memory so far."""
    log(f"== {name}")
    started, cpu = time.perf_counter(), time.process_time()
    done = threading.Event()

    def heartbeat():
        while not done.wait(5):
            if time.monotonic() - _last_output[0] >= HEARTBEAT_SECONDS:
                log(f"   … {name}: running for {time.perf_counter() - started:.0f} s, "
                    f"peak RSS {factors_sparse.peak_rss_mb():,.0f} MB")

    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()
    try:
        yield
    finally:
        done.set()
        beat.join()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    timings.append((name, seconds, cpu, factors_sparse.peak_rss_mb()))
    log(f"   {name}: {seconds:.1f} s ({cpu:.1f} s CPU), peak RSS {factors_sparse.peak_rss_mb():,.0f} MB")


# --------------------------------------------------------------------------
# The bundle, from a catalog, sequences and item factors (any engine)
# --------------------------------------------------------------------------


@dataclass
class KnownUsers:
    """Research bundles only: who the training users are and what they had."""
    ids: list[str]
    seen: list[list[int]]  # per user, distinct catalog rows
    factors: np.ndarray    # (users, dim) float32
    notice: str = DEFAULT_NOTICE


def synthetic_histories(popular: list[int], lengths: list[int], seed: int) -> list[list[int]]:
    """Parity inputs that are no shopper's history: popular items in random order."""
    rng = random.Random(seed)
    return [rng.sample(popular, n) for n in lengths if n <= len(popular)]


def parity_lengths(max_len: int) -> list[int]:
    """History lengths of the next-up parity cases: short ones, and one past max_len."""
    return [1, 2, 5, 12, 30, max_len + 5]


def factor_parity_cases(catalog: data.Catalog, popular: list[int], item_factors: np.ndarray,
                        item_embeddings: np.ndarray, fold_in_lambda: float, seed: int,
                        known_users: KnownUsers | None = None, content_columns: int = 0,
                        unbought: np.ndarray | None = None) -> list[dict]:
    rng = random.Random(seed)
    ids = catalog.ids

    def ranked(pairs):
        return [{"id": ids[i], "score": score} for i, score in pairs]

    cases = []
    for item in rng.sample(popular[:50], min(7, len(popular[:50]))):
        cases.append({"kind": "similar", "item": ids[item], "category": None,
                      "expected": ranked(factors.similar(item_embeddings, item, PARITY_K))})
    for item, category in zip(popular, list(catalog.categories())[:2]):
        allowed = np.array([category in it.categories for it in catalog.items])
        cases.append({"kind": "similar", "item": ids[item], "category": category,
                      "expected": ranked(factors.similar(item_embeddings, item, PARITY_K, allowed))})
    if content_columns and unbought is not None and unbought.any():
        # Products no one has bought query with their content columns alone.
        for item in rng.sample(sorted(np.flatnonzero(unbought).tolist()), min(3, int(unbought.sum()))):
            cases.append({"kind": "similar", "item": ids[item], "category": None,
                          "expected": ranked(factors.similar(item_embeddings, item, PARITY_K,
                                                             content_columns=content_columns, unbought=unbought))})
    histories = synthetic_histories(popular[:200], [1, 3, 5, 10, 20], seed)
    for history in histories:
        cases.append({"kind": "for_history", "history": [ids[i] for i in history],
                      "expected": ranked(factors.for_history(item_factors, history, fold_in_lambda, PARITY_K))})
    # Unknown ids in a history are skipped, not fatal: the reference ignores them too.
    cases.append({"kind": "for_history", "history": [ids[i] for i in histories[0]] + ["not-in-catalog"],
                  "expected": ranked(factors.for_history(item_factors, histories[0], fold_in_lambda, PARITY_K))})
    if known_users is not None:
        for user in rng.sample(range(len(known_users.ids)), min(5, len(known_users.ids))):
            cases.append({"kind": "for_user", "user": known_users.ids[user],
                          "expected": ranked(factors.for_user(item_factors, known_users.factors, user,
                                                              known_users.seen[user], PARITY_K))})
    return cases


TRENDING_HALF_LIFE_DAYS = 7.0


def trending_scores(events: data.Events, n_items: int, weights: dict[str, float] | None,
                    half_life_days: float) -> np.ndarray:
    """Per item (rows): column 0 trending, the weighted events decayed by their
    age before the newest event (half of the weight every `half_life_days`);
    column 1 popularity, the same without decay. float32 [items, 2]."""
    weight = events.weights(weights).astype(np.float64)
    if len(events) == 0:
        return np.zeros((n_items, 2), np.float32)
    age_days = (events.time.max() - events.time) / 86_400.0
    decayed = weight * np.exp2(-age_days / half_life_days)
    return np.stack([np.bincount(events.item, weights=decayed, minlength=n_items),
                     np.bincount(events.item, weights=weight, minlength=n_items)], axis=1).astype(np.float32)


TOGETHER_TOP_N = 20
TOGETHER_SHRINKAGE = 5.0
TOGETHER_MIN_COUNT = 2
SESSION_GAP_SECONDS = 30 * 60


def transactions(events: data.Events) -> np.ndarray:
    """A transaction code per event: its basket (order) where the data has any,
    else the shopper's session: events of one shopper less than 30 minutes apart."""
    if (events.basket >= 0).any():
        return events.basket.astype(np.int64)
    order = events.order()
    shopper, time = events.shopper[order], events.time[order]
    new = np.ones(len(order), bool)
    new[1:] = (shopper[1:] != shopper[:-1]) | (time[1:] - time[:-1] > SESSION_GAP_SECONDS)
    codes = np.empty(len(order), np.int64)
    codes[order] = np.cumsum(new) - 1
    return codes


def bought_together(events: data.Events, n_items: int, top_n: int = TOGETHER_TOP_N,
                    shrinkage: float = TOGETHER_SHRINKAGE, min_count: int = TOGETHER_MIN_COUNT,
                    codes: np.ndarray | None = None):
    """Per item, its top_n partners by c(i, j) / (sqrt(s(i) s(j)) + shrinkage), where
    c counts transactions holding both and s each one's transactions; pairs seen in
    fewer than min_count transactions are left out (`codes`: transactions(events), when
    already computed). Returns CSR arrays (offsets
    [n_items + 1], partner rows, float32 scores), partners best first."""
    import scipy.sparse as sp
    codes = transactions(events) if codes is None else codes
    keep = codes >= 0
    rows, codes_kept = events.item[keep], codes[keep]
    _, group = np.unique(codes_kept, return_inverse=True)
    x = sp.csr_matrix((np.ones(len(rows), np.float32), (group, rows)), shape=(group.max() + 1 if len(group) else 0, n_items))
    x.data[:] = 1.0
    x.sum_duplicates()
    x.data[:] = 1.0
    co = (x.T @ x).tocsr()
    support = co.diagonal().astype(np.float64)
    offsets, partners, scores = [0], [], []
    for i in range(n_items):
        start, end = co.indptr[i], co.indptr[i + 1]
        js, counts = co.indices[start:end], co.data[start:end]
        mask = (js != i) & (counts >= min_count)
        js, counts = js[mask], counts[mask]
        score = counts / (np.sqrt(support[i] * support[js]) + shrinkage)
        best = np.lexsort((js, -score))[:top_n]
        partners.extend(js[best].tolist())
        scores.extend(score[best].tolist())
        offsets.append(len(partners))
    return np.array(offsets, np.uint32), np.array(partners, np.uint32), np.array(scores, np.float32)


def together_scores(together, cart: list[int], n_items: int) -> np.ndarray:
    """The engine's cart score: the sum of each cart item's partner scores (NaN: no partner)."""
    offsets, partners, scores = together
    total = np.full(n_items, np.nan, np.float32)
    for i in cart:
        for j, score in zip(partners[offsets[i]:offsets[i + 1]], scores[offsets[i]:offsets[i + 1]]):
            total[j] = score if np.isnan(total[j]) else np.float32(total[j] + score)
    return total


def together_parity_cases(catalog: data.Catalog, together, popular: list[int], seed: int,
                          trending: np.ndarray | None = None) -> list[dict]:
    """What the engine answers for a few carts: partners by summed score, then,
    with trending scores, the rest of the k by trending (score 0)."""
    ids = catalog.ids
    offsets = together[0]
    with_partners = [i for i in popular if offsets[i + 1] > offsets[i]]
    rng = random.Random(seed)
    carts = [[i] for i in with_partners[:3]] + [rng.sample(with_partners[:30], min(3, len(with_partners[:30])))]
    cases = []
    for cart in [c for c in carts if c]:
        total = together_scores(together, cart, len(ids))
        allowed = ~np.isnan(total)
        allowed[cart] = False
        ranked = factors.top_k(np.nan_to_num(total, nan=0.0), PARITY_K, allowed=allowed)
        if trending is not None and len(ranked) < PARITY_K:
            rest = np.isnan(total)
            rest[cart] = False
            ranked += [(i, 0.0) for i, _ in factors.top_k(trending[:, 0], PARITY_K - len(ranked), allowed=rest)]
        cases.append({"kind": "together", "items": [ids[i] for i in cart],
                      "expected": [{"id": ids[i], "score": s} for i, s in ranked]})
    return cases


def trending_parity_cases(catalog: data.Catalog, trending: np.ndarray) -> list[dict]:
    """Trending overall and in the two largest categories, by the numpy reference."""
    ids = catalog.ids
    cases = [{"kind": "trending", "category": None,
              "expected": [{"id": ids[i], "score": s} for i, s in factors.top_k(trending[:, 0], PARITY_K)]}]
    for category in list(catalog.categories())[:2]:
        allowed = np.array([category in item.categories for item in catalog.items])
        cases.append({"kind": "trending", "category": category, "expected": [
            {"id": ids[i], "score": s} for i, s in factors.top_k(trending[:, 0], PARITY_K, allowed=allowed)]})
    return cases


def write_bundle(out: Path, *, catalog: data.Catalog, item_factors: np.ndarray, item_embeddings: np.ndarray,
                 fold_in_lambda: float, popular: list[int], name: str, version: str, created: str,
                 sequences: list | None = None, next_up_options: dict | None = None,
                 known_users: KnownUsers | None = None, seed: int = 0, extra: dict | None = None,
                 matrix_dtype: str = bundle.DEFAULT_MATRIX_DTYPE, trending: np.ndarray | None = None,
                 trending_half_life_days: float = TRENDING_HALF_LIFE_DAYS, together=None,
                 similar_content: dict | None = None, next_up_model: lstm.NextUpModel | None = None) -> Path:
    """Builds and writes (atomically) a bundle the engine loads: similar (cosine over
    item_embeddings), for-you (fold-in over item_factors), next up (the LSTM trained
    here on `sequences`, unless next_up_options is None; or `next_up_model` as given),
    the catalog for search,
    and parity cases from the numpy and onnxruntime references. `popular`: catalog
    rows, most popular first (parity inputs are drawn from them). Any factor engine's
    output can come in here. Item matrices are stored as `matrix_dtype` (int8 by
    default); parity cases score what is stored. Returns the manifest's path."""
    embeddings_file, embeddings_bytes, embeddings_spec, item_embeddings = bundle.item_matrix(
        "item_embeddings", item_embeddings, matrix_dtype)
    factors_file, factors_bytes, factors_spec, item_factors = bundle.item_matrix(
        "item_factors", item_factors, matrix_dtype)
    files = {
        "catalog.json": bundle.json_bytes({"items": [item.to_json() for item in catalog.items]}),
        embeddings_file: embeddings_bytes,
        factors_file: factors_bytes,
    }
    factor_spec = {"items": factors_spec, "fold_in_lambda": fold_in_lambda}
    if known_users is not None:
        files["users.json"] = bundle.json_bytes({"ids": known_users.ids, "seen": known_users.seen})
        files["user_factors.f32"] = bundle.matrix_bytes(known_users.factors)
        factor_spec.update(users=bundle.matrix_spec("user_factors.f32", known_users.factors),
                           users_file="users.json", known_users_notice=known_users.notice)
    models = {"similar": {"embeddings": embeddings_spec, **(similar_content or {})}, "factors": factor_spec}
    content_columns = (similar_content or {}).get("content_columns", 0)
    unbought = trending[:, 1] <= 0 if trending is not None and content_columns else None
    cases = factor_parity_cases(catalog, popular, item_factors, item_embeddings, fold_in_lambda, seed, known_users,
                                content_columns, unbought)
    if trending is not None:
        # Trending and popularity: aggregates over every shopper, no one's events.
        files["popularity.f32"] = bundle.matrix_bytes(trending)
        models["popularity"] = {"scores": bundle.matrix_spec("popularity.f32", trending),
                                "half_life_days": trending_half_life_days}
        cases += trending_parity_cases(catalog, trending)
    together_cases = (together_parity_cases(catalog, together, popular, seed, trending)
                      if together is not None else [])
    if together_cases:
        # Co-occurrence counts over all transactions, no one's baskets.
        offsets, partners, scores = together
        files["together.bin"] = (offsets.astype("<u4").tobytes() + partners.astype("<u4").tobytes()
                                 + scores.astype("<f4").tobytes())
        models["together"] = {"file": "together.bin", "pairs": int(len(partners)), "top_n": TOGETHER_TOP_N,
                              "measure": f"c(i,j) / (sqrt(s(i) s(j)) + {TOGETHER_SHRINKAGE:g}), "
                                         f"c(i,j) >= {TOGETHER_MIN_COUNT}"}
        cases += together_cases
    if next_up_model is not None:
        lstm_files, models["next_up"], lstm_cases = next_up.package(
            next_up_model, [], catalog.ids, parity_k=PARITY_K, seed=seed, matrix_dtype=matrix_dtype,
            parity_histories=synthetic_histories(popular[:500], parity_lengths(next_up_model.max_len), seed + 1))
        files.update(lstm_files)
        cases += lstm_cases
    elif next_up_options is not None and sequences:
        options = dict(next_up_options)
        max_len = options.pop("max_len")
        lstm_files, models["next_up"], lstm_cases, model = next_up.build(
            sequences, catalog.ids, max_len=max_len, seed=seed, parity_k=PARITY_K, log=log,
            parity_histories=synthetic_histories(popular[:500], parity_lengths(max_len), seed + 1),
            matrix_dtype=matrix_dtype, **options)
        log(f"   next up: trained in {model.train_seconds:.0f} s, best epoch {model.best_epoch}, "
            f"validation NDCG@10 {model.valid_metric:.4f}")
        files.update(lstm_files)
        cases += lstm_cases
    return bundle.write_atomically(out, name=name, version=version, created=created, item_count=len(catalog),
                                   files=files, models={**models, **(extra or {})},
                                   parity={"k": PARITY_K, "tolerance": PARITY_TOLERANCE, "cases": cases})


# --------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------


def parse_weights(text: str | None) -> dict[str, float]:
    weights = dict(data.EVENT_WEIGHTS)
    for part in filter(None, (text or "").split(",")):
        name, _, value = part.partition("=")
        if name.strip() not in weights:
            raise argparse.ArgumentTypeError(f"unknown event type {name!r} (view, cart, purchase)")
        weights[name.strip()] = float(value)
        if not weights[name.strip()] > 0:
            raise argparse.ArgumentTypeError(f"the weight of {name.strip()} must be > 0")
    return weights


def consecutive_distinct(items: np.ndarray) -> np.ndarray:
    """A view, a cart and a purchase of one product in a row are one step of the sequence."""
    if len(items) < 2:
        return items
    return items[np.concatenate(([True], items[1:] != items[:-1]))]


def arguments(argv=None):
    parser = argparse.ArgumentParser(prog="python -m models.train", description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, required=True, help="catalog: .csv, .jsonl or .parquet")
    parser.add_argument("--events", type=Path, required=True, help="events: .csv, .jsonl or .parquet")
    parser.add_argument("--out", type=Path, required=True, help="bundle folder (replaced whole at the end)")
    parser.add_argument("--name", help="bundle name (default: the --out folder's name)")
    parser.add_argument("--version", help="version string (default: the UTC time, e.g. 20250301-120000)")
    parser.add_argument("--created", help="ISO time to record (default: now, UTC)")
    parser.add_argument("--engine", default="local", help="factor engine: " + ", ".join(factors_sparse.ENGINES))
    parser.add_argument("--method", default=factors_sparse.DEFAULT_METHOD, choices=sorted(factors_sparse.METHODS),
                        help="local factor method (docs/training.md: why als)")
    parser.add_argument("--spark-master", default=None,
                        help="--engine spark: Spark master URL, passed on unchanged (local[*], spark://host:7077, "
                             "yarn, k8s://...); default local[*], or spark-submit's --master under spark-submit")
    parser.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                        help="--engine spark: a Spark setting, repeatable (e.g. spark.driver.memory=8g; default 2g)")
    parser.add_argument("--als-alpha", type=float,
                        help=f"ALS confidence 1 + alpha x value (default {factors_sparse.ALS_DEFAULTS['alpha']:g})")
    parser.add_argument("--als-regularization", type=float,
                        help=f"ALS L2 weight (default {factors_sparse.ALS_DEFAULTS['regularization']:g})")
    parser.add_argument("--als-iterations", type=int,
                        help=f"ALS sweeps (default {factors_sparse.ALS_DEFAULTS['iterations']})")
    parser.add_argument("--weights", type=parse_weights, default=dict(data.EVENT_WEIGHTS),
                        help="event weights, e.g. view=1,cart=2,purchase=4 (the default)")
    parser.add_argument("--factor-dim", type=int, default=32)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--fold-in-lambda", default="auto",
                        help="'auto' (best on held-out last baskets) or a number")
    parser.add_argument("--next-up-dim", type=int, default=64)
    parser.add_argument("--next-up-max-len", type=int, default=50)
    parser.add_argument("--next-up-epochs", type=int, default=30, help="upper bound; early stopping decides")
    parser.add_argument("--next-up-max-seconds", type=float, default=None,
                        help="time budget of the LSTM, its refit included (skipped if it would not fit)")
    parser.add_argument("--no-next-up", action="store_true", help="leave the LSTM out")
    parser.add_argument("--trending-half-life-days", type=float, default=TRENDING_HALF_LIFE_DAYS,
                        help="trending: an event's weight halves every this many days before the newest event")
    parser.add_argument("--content-dim", type=int, default=content.CONTENT_DIM,
                        help="similar items: columns of content (title, categories, attributes) appended to "
                             "the collaborative embedding, so products no one bought have neighbours; 0: none")
    parser.add_argument("--content-blend", default="auto",
                        help="similar items: the collaborative share w of the cosine, 'auto' (chosen on "
                             "held-out transactions) or a number in [0, 1]")
    parser.add_argument("--matrix-dtype", choices=bundle.MATRIX_DTYPES, default=bundle.DEFAULT_MATRIX_DTYPE,
                        help="how item matrices are stored: i8 (int8 + a scale per row, a quarter of the "
                             "bytes; the default) or f32")
    parser.add_argument("--include-known-users", action="store_true",
                        help="public research data only: put the training users' ids, items and factors in "
                             "the bundle (for_user); a shop's bundle must never have them")
    parser.add_argument("--known-users-notice", default=DEFAULT_NOTICE,
                        help="the manifest's known_users_notice (with --include-known-users)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.engine not in factors_sparse.ENGINES:
        parser.error(f"--engine {args.engine!r}: known engines are {', '.join(factors_sparse.ENGINES)}")
    if args.engine != "spark" and (args.spark_master or args.spark_conf):
        parser.error("--spark-master and --spark-conf need --engine spark")
    for setting in args.spark_conf:
        if "=" not in setting:
            parser.error(f"--spark-conf {setting!r}: expected KEY=VALUE")
    if args.fold_in_lambda != "auto":
        try:
            args.fold_in_lambda = float(args.fold_in_lambda)
        except ValueError:
            parser.error("--fold-in-lambda must be 'auto' or a number")
        if not args.fold_in_lambda > 0:
            parser.error("--fold-in-lambda must be > 0")
    if args.content_blend != "auto":
        try:
            args.content_blend = float(args.content_blend)
        except ValueError:
            parser.error("--content-blend must be 'auto' or a number")
        if not 0.0 <= args.content_blend <= 1.0:
            parser.error("--content-blend must be in [0, 1]")
    if args.content_dim < 0:
        parser.error("--content-dim must be >= 0")
    if not args.trending_half_life_days > 0:
        parser.error("--trending-half-life-days must be > 0")
    for name in ("factor_dim", "embedding_dim", "next_up_dim", "next_up_max_len", "next_up_epochs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def run(args) -> Path:
    timings: list = []
    started = time.perf_counter()
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with step("read catalog", timings):
        catalog = data.read_catalog(args.catalog, log=log)
    with step("read events", timings):
        events = data.read_events(args.events, catalog, log=log)
    for line in data.report_lines(catalog, events, args.weights):
        log(line)
    n_items = len(catalog)
    trending = trending_scores(events, n_items, args.weights, args.trending_half_life_days)
    popularity = np.bincount(events.item, minlength=n_items)
    popular = [int(i) for i in np.argsort(-popularity, kind="stable") if popularity[i] > 0]
    rank = min(len(events.shopper_ids), len(popular))
    factor_dim, embedding_dim = min(args.factor_dim, rank), min(args.embedding_dim, rank)
    if (factor_dim, embedding_dim) != (args.factor_dim, args.embedding_dim):
        log(f"note: the data has rank <= {rank} ({len(events.shopper_ids)} shoppers, {len(popular)} items with "
            f"events): factor dim {factor_dim}, embedding dim {embedding_dim}")
    fit_options = {"engine": args.engine, "method": args.method, "seed": args.seed, "log": log}
    if args.method == "als" or args.engine != "local":  # given ones only: an engine keeps its own defaults
        given = {"alpha": args.als_alpha, "regularization": args.als_regularization,
                 "iterations": args.als_iterations}
        fit_options.update({k: v for k, v in given.items() if v is not None})
    if args.engine == "spark":
        fit_options.update(master=args.spark_master,
                           conf=dict(setting.split("=", 1) for setting in args.spark_conf))

    lam = args.fold_in_lambda
    if lam == "auto":
        with step("evaluate: fold-in on each shopper's held-out last basket", timings):
            held = factors_sparse.holdout(events, seed=args.seed, max_shoppers=2000)
            if not held.histories:
                log("   no shopper has a held-out basket with an item new to them: λ from the default scale")
            matrix = factors_sparse.events_matrix(events, n_items, held.train, args.weights)
            # Local ALS without --als-alpha: its confidence is chosen here too, with λ.
            candidates = [{}]
            if held.histories and args.engine == "local" and args.method == "als" and args.als_alpha is None:
                candidates = [{"alpha": alpha} for alpha in factors_sparse.ALS_ALPHAS]
            if held.histories:
                log(f"   {len(held.histories):,} shoppers tested on their {held.protocol} (items new to them, "
                    f"top 10, history excluded as the engine does)")
            best = None
            for extra in candidates:
                item_factors, _ = factors_sparse.fit_factors(matrix, factor_dim, embedding_dim=embedding_dim,
                                                             **fit_options, **extra)
                if not held.histories:
                    lam = factors_sparse.lambda_grid(item_factors)[4]
                    break
                if extra:
                    log(f"   ALS alpha {extra['alpha']:g}")
                lam_here, table = factors_sparse.choose_lambda(item_factors, held, log)
                _, hr, ndcg = max(table, key=lambda row: (row[2], row[1]))
                if best is None or (ndcg, hr) > best[0]:
                    best, lam = ((ndcg, hr), extra), lam_here
            del matrix
            if best is not None:
                fit_options.update(best[1])
                pop_train = np.bincount(events.item[held.train], minlength=n_items).astype(np.float64)
                hr, ndcg = factors_sparse.evaluate_popularity(pop_train, held)
                chosen = f"alpha {best[1]['alpha']:g}, " if best[1] else ""
                log(f"   fold-in HR@10 {best[0][1]:.4f}  NDCG@10 {best[0][0]:.4f} with {chosen}λ {lam:g}; "
                    f"popularity baseline HR@10 {hr:.4f}  NDCG@10 {ndcg:.4f}")
    method = "mllib-als" if args.engine == "spark" else args.method
    with step(f"factors ({args.engine}/{method}, dim {factor_dim}, embeddings {embedding_dim})", timings):
        matrix = factors_sparse.events_matrix(events, n_items, weights=args.weights)
        log(f"   interactions: {matrix.shape[0]:,} x {matrix.shape[1]:,} CSR, {matrix.nnz:,} non-zeros "
            f"({(matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes) / 1e6:.1f} MB)")
        item_factors, item_embeddings = factors_sparse.fit_factors(matrix, factor_dim, embedding_dim=embedding_dim,
                                                                   **fit_options)
        log(f"   item factors {item_factors.shape[0]:,} x {item_factors.shape[1]}, "
            f"similar-item embeddings {item_embeddings.shape[0]:,} x {item_embeddings.shape[1]}")
    codes = transactions(events)  # baskets or sessions: the content blend and bought together
    similar_content = None
    if args.content_dim:
        with step(f"similar items: content columns (dim {args.content_dim}) and the blend", timings):
            item_embeddings, similar_content = content_blend(args, catalog, events, codes, fit_options,
                                                             factor_dim, embedding_dim, item_embeddings)
    known_users = None
    if args.include_known_users:
        seen = [sorted({int(i) for i in matrix[row].indices}) for row in range(matrix.shape[0])]
        known_users = KnownUsers(list(events.shopper_ids), seen,
                                 factors_sparse.known_user_factors(item_factors, [np.asarray(s) for s in seen], lam),
                                 args.known_users_notice)
        log(f"   --include-known-users: {len(seen):,} users' ids, items and factors go into the bundle")
    del matrix
    sequences = None
    next_up_options = None
    if not args.no_next_up:
        sequences = [consecutive_distinct(s) for s in events.sequences()]
        if not any(len(s) >= 2 for s in sequences):
            log("note: no shopper has two events: the bundle has no next-up model")
        else:
            next_up_options = {"max_len": args.next_up_max_len, "dim": args.next_up_dim,
                               "epochs": args.next_up_epochs, "max_seconds": args.next_up_max_seconds}
    version = args.version or now.strftime("%Y%m%d-%H%M%S")
    name = args.name or args.out.resolve().name
    with step("next up + parity cases + bundle" if next_up_options else "parity cases + bundle", timings):
        manifest = write_bundle(args.out, catalog=catalog, item_factors=item_factors,
                                item_embeddings=item_embeddings, fold_in_lambda=float(lam), popular=popular,
                                name=name, version=version, created=args.created or now.isoformat(),
                                sequences=sequences, next_up_options=next_up_options, known_users=known_users,
                                seed=args.seed, matrix_dtype=args.matrix_dtype, trending=trending,
                                trending_half_life_days=args.trending_half_life_days,
                                together=bought_together(events, n_items, codes=codes),
                                similar_content=similar_content)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    log(f"wrote {manifest}: bundle {name} version {version}, {size / 1e6:.2f} MB, "
        f"{'WITH known users (research data)' if known_users else 'no shopper data'}; "
        f"{time.perf_counter() - started:.1f} s in all, peak RSS {factors_sparse.peak_rss_mb():,.0f} MB")
    log("check it: cargo run --bin edgerec -- verify " + str(args.out))
    return manifest


DEFAULT_CONTENT_BLEND = 0.9  # w where no held-out transactions can choose it (the Instacart choice)


def content_blend(args, catalog: data.Catalog, events: data.Events, codes: np.ndarray, fit_options: dict,
                  factor_dim: int, embedding_dim: int,
                  item_embeddings: np.ndarray) -> tuple[np.ndarray, dict | None]:
    """The similar-items matrix with content columns (models/content.py) and its manifest
    entry. With --content-blend auto, w is chosen on held-out transactions, refitting the
    factors without them."""
    vectors = content.content_vectors(catalog, args.content_dim, seed=args.seed)
    if vectors.shape[1] == 0:
        log("   no two products share a word, category or attribute: similar items stay collaborative")
        return item_embeddings, None
    log(f"   content vectors: {vectors.shape[0]:,} x {vectors.shape[1]} from titles, categories and attributes")
    weight, chosen_by = args.content_blend, "given"
    if weight == "auto":
        if len(np.unique(codes[codes >= 0])) < 50:
            weight, chosen_by = DEFAULT_CONTENT_BLEND, "default (fewer than 50 transactions to choose on)"
        else:
            def fit(mask):
                matrix = factors_sparse.events_matrix(events, len(catalog), mask, args.weights)
                return factors_sparse.fit_factors(matrix, factor_dim, embedding_dim=embedding_dim,
                                                  **{**fit_options, "log": factors_sparse.quiet})[1]
            weight, table = content.choose_blend(events, codes, vectors, fit, seed=args.seed, log=log)
            chosen_by = "best HR@10 on held-out transactions"
            for w, split, hr, ndcg in table:
                label = "popular" if w == "popular" else f"w {w:.1f}"
                log(f"   {split:<34} {label:<8} HR@10 {hr:.4f}  NDCG@10 {ndcg:.4f}")
    warm = np.bincount(events.item, minlength=len(catalog)) > 0
    log(f"   w {weight:g} ({chosen_by}); {int((~warm).sum()):,} items without events query by content")
    return content.blended(item_embeddings, warm, vectors, weight), {
        "content_columns": int(vectors.shape[1]), "content_blend": float(weight)}


def main(argv=None) -> None:
    args = arguments(argv)
    try:
        run(args)
    except data.DataError as error:
        sys.exit(f"train: {error}")
    except FileExistsError as error:
        sys.exit(f"train: {error}")


if __name__ == "__main__":
    main()
