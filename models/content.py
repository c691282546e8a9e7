"""Content vectors for "similar items", so a product no one has bought yet still has neighbours.

Each product's text (title words, categories, and string attributes such as brand,
department or aisle) becomes a TF-IDF vector, reduced by a truncated SVD to a few
dense columns. The similar-items matrix the engine scans is then, per product,

    [ sqrt(w) · cf , sqrt(1 - w) · content ]

with both parts unit length, so one cosine scan scores w · cos(cf) + (1 - w) · cos(content).
A product with events has the collaborative embedding as `cf`; one without has the
collaborative embedding its content predicts (a ridge map from content to cf, fitted on
the products with events), which keeps every row unit length and the blend the same
for all. The weight w is chosen on held-out orders (`choose_blend`, docs/training.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import data

CONTENT_DIM = 32
BLEND_GRID = tuple(round(w, 2) for w in np.linspace(0.0, 1.0, 11))
RIDGE = 1e-2
_WORD = re.compile(r"[0-9a-z]+")


def tokens(item: data.Item) -> set[str]:
    """Title words, then each category and string attribute as one token of its own
    (so "Frozen" the department is not "frozen" the title word)."""
    words = {f"w:{word}" for word in _WORD.findall(item.title.lower()) if len(word) > 1 or word.isdigit()}
    fields = {f"c:{name.lower()}" for name in item.categories}
    fields |= {f"a:{key}={value.lower()}" for key, value in item.attributes.items()
               if isinstance(value, str) and value}
    return words | fields


def tfidf(catalog: data.Catalog) -> sp.csr_matrix:
    """Items x terms, idf = log(n / df) + 1, rows unit length. Terms in one item only say
    nothing about neighbours and are dropped."""
    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for row, item in enumerate(catalog.items):
        for token in tokens(item):
            rows.append(row)
            cols.append(vocabulary.setdefault(token, len(vocabulary)))
    x = sp.csr_matrix((np.ones(len(rows), np.float64), (rows, cols)), shape=(len(catalog), len(vocabulary)))
    df = np.asarray((x > 0).sum(axis=0)).ravel()
    keep = np.flatnonzero(df >= 2)
    x = x[:, keep].tocsr()
    x = x @ sp.diags(np.log(len(catalog) / df[keep]) + 1.0)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ x)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def content_vectors(catalog: data.Catalog, dim: int = CONTENT_DIM, seed: int = 0) -> np.ndarray:
    """Unit content vectors (items x dim, float64): the TF-IDF rows projected on their
    top `dim` singular directions."""
    from .factors_sparse import randomized_svd
    x = tfidf(catalog)
    rank = min(dim, min(x.shape) - 1) if min(x.shape) > 1 else 0
    if rank < 1:
        return np.zeros((len(catalog), 0))
    u, s, _ = randomized_svd(x, rank, seed=seed)
    return unit_rows(u * s)


def fit_ridge(content: np.ndarray, cf_unit: np.ndarray, warm: np.ndarray) -> np.ndarray:
    """The linear map from content to unit cf, least squares over items with events."""
    c = content[warm]
    gram = c.T @ c + RIDGE * max(len(c), 1) / max(c.shape[1], 1) * np.eye(c.shape[1])
    return np.linalg.solve(gram, c.T @ cf_unit[warm])


def blended(cf: np.ndarray, warm: np.ndarray, content: np.ndarray, weight: float) -> np.ndarray:
    """The similar-items matrix, float32: [sqrt(w) cf, sqrt(1-w) content] per item, both
    parts unit length; an item without events (`warm` False) takes the cf its content
    predicts (`fit_ridge`), so it can be found from items with events."""
    cf_unit = unit_rows(cf.astype(np.float64))
    if (~warm).any() and warm.any():
        cf_unit[~warm] = unit_rows(content[~warm] @ fit_ridge(content, cf_unit, warm))
    return np.hstack([np.sqrt(weight) * cf_unit, np.sqrt(1.0 - weight) * content]).astype(np.float32)


def queries(rows: np.ndarray, warm: np.ndarray, content_columns: int) -> np.ndarray:
    """What the engine scans with for each item: its own row; for an item without events,
    the content part alone (unit), since its predicted cf is a guess."""
    out = rows.copy()
    if content_columns:
        out[~warm, :rows.shape[1] - content_columns] = 0.0
    return unit_rows(out)


# --------------------------------------------------------------------------
# Choosing w on orders the factors never saw
# --------------------------------------------------------------------------


@dataclass
class Pairs:
    """(query item, an item bought with it) from held-out transactions."""
    query: np.ndarray
    target: np.ndarray


def split_for_blend(events: data.Events, codes: np.ndarray, seed: int, held_share: float = 0.2,
                    cold_share: float = 0.2):
    """Holds out `held_share` of the transactions, and makes `cold_share` of the items with
    events cold: all their events leave training. Returns (training event mask, cold items,
    validation pairs, test pairs), the pairs drawn from held-out transactions, one partner
    per (item, transaction)."""
    rng = np.random.default_rng(seed)
    has = codes >= 0
    transactions = np.unique(codes[has])
    held = rng.random(len(transactions)) < held_share
    held_codes = transactions[held]
    in_held = has & np.isin(codes, held_codes)
    seen = np.unique(events.item)
    cold = rng.choice(seen, size=max(1, int(len(seen) * cold_share)), replace=False) if len(seen) else seen
    train = ~in_held & ~np.isin(events.item, cold)
    order = np.flatnonzero(in_held)
    order = order[np.argsort(codes[order], kind="stable")]
    items, groups = events.item[order], codes[order]
    bounds = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1], True])
    half = rng.random(len(bounds) - 1) < 0.5  # a transaction's pairs all go to validation or all to test
    query, target, side = [], [], []
    for g, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
        basket = np.unique(items[start:end])
        if len(basket) < 2:
            continue
        for q in basket:
            partners = basket[basket != q]
            query.append(q)
            target.append(partners[rng.integers(len(partners))])
            side.append(half[g])
    query, target, side = np.array(query, np.int64), np.array(target, np.int64), np.array(side, bool)
    return train, cold, Pairs(query[side], target[side]), Pairs(query[~side], target[~side])


def hit_rates(rows: np.ndarray, query_rows: np.ndarray, pairs: Pairs, k: int = 10,
              batch: int = 512) -> tuple[float, float]:
    """HR@k and NDCG@k of each pair's target among the k items whose unit `rows` score
    highest against its query's `query_rows` row, the query itself excluded (the engine's
    similar items)."""
    if not len(pairs.query):
        return 0.0, 0.0
    unit = unit_rows(rows.astype(np.float32))
    hits, gains = 0, 0.0
    for start in range(0, len(pairs.query), batch):
        q, t = pairs.query[start:start + batch], pairs.target[start:start + batch]
        scores = query_rows[q].astype(np.float32) @ unit.T
        scores[np.arange(len(q)), q] = -np.inf
        target_scores = scores[np.arange(len(q)), t]
        # Ties count against the target: the engine breaks them by row, not by merit.
        rank = (scores >= target_scores[:, None]).sum(axis=1) - 1
        inside = rank < k
        hits += int(inside.sum())
        gains += float((1.0 / np.log2(rank[inside] + 2.0)).sum())
    return hits / len(pairs.query), gains / len(pairs.query)


def popularity_rates(popularity: np.ndarray, pairs: Pairs, k: int = 10) -> tuple[float, float]:
    """The same measure for "the k most popular items" (the query excluded)."""
    rank_of = np.empty(len(popularity), np.int64)
    rank_of[np.argsort(-popularity, kind="stable")] = np.arange(len(popularity))
    rank = rank_of[pairs.target] - (rank_of[pairs.query] < rank_of[pairs.target])
    inside = rank < k
    n = max(len(pairs.query), 1)
    return float(inside.sum()) / n, float((1.0 / np.log2(rank[inside] + 2.0)).sum()) / n


def choose_blend(events: data.Events, codes: np.ndarray, content: np.ndarray, fit_embeddings, seed: int = 0,
                 log=print) -> tuple[float, list]:
    """w from BLEND_GRID: the best HR@10 (then NDCG@10) on validation pairs whose query has
    events. `fit_embeddings(mask)` fits the collaborative embeddings on the events `mask`
    keeps. Returns (w, table rows (w, pairs, HR@10, NDCG@10)), with test rows, for items
    with events and items made cold, for w, cf alone (w = 1), content alone (w = 0) and
    the k most popular items."""
    train, cold, validation, test = split_for_blend(events, codes, seed)
    log(f"   {len(validation.query):,} validation and {len(test.query):,} test pairs from held-out "
        f"transactions; {len(cold):,} items with events made cold")
    cf = fit_embeddings(train)
    popularity = np.bincount(events.item[train], minlength=len(content))
    warm = popularity > 0
    is_cold = np.zeros(len(content), bool)
    is_cold[cold] = True

    def part(pairs, cold_queries):
        keep = is_cold[pairs.query] == cold_queries
        return Pairs(pairs.query[keep], pairs.target[keep])

    def row(w, name, pairs):
        rows = blended(cf, warm, content, w)
        return (w, name) + hit_rates(rows, queries(rows, warm, content.shape[1]), pairs)

    table = [row(w, "validation, items with events", part(validation, False)) for w in BLEND_GRID]
    weight = max(table, key=lambda r: (r[2], r[3], r[0]))[0]
    for name, cold_queries in (("test, items with events", False), ("test, items made cold", True)):
        pairs = part(test, cold_queries)
        table += [row(w, name, pairs) for w in dict.fromkeys((weight, 1.0, 0.0))]
        table.append(("popular", name) + popularity_rates(popularity.astype(np.float64), pairs))
    return float(weight), table
