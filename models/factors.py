"""Truncated SVD of the implicit interaction matrix, and the numpy reference
for every query the engine answers from it.

The engine (Rust) must reproduce these functions; the bundle's parity cases
are their outputs on real inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Factors:
    item_embeddings: np.ndarray  # (items, embedding_dim): for cosine "similar"
    item_factors: np.ndarray     # (items, factor_dim): V * sqrt(S)
    user_factors: np.ndarray     # (users, factor_dim): U * sqrt(S)
    singular_values: np.ndarray


def implicit_matrix(user_items: list[list[int]], item_count: int) -> np.ndarray:
    """Binary users x items matrix: 1 where the user rated the item at all."""
    matrix = np.zeros((len(user_items), item_count), dtype=np.float64)
    for row, items in enumerate(user_items):
        matrix[row, items] = 1.0
    return matrix


def fit(matrix: np.ndarray, factor_dim: int, embedding_dim: int) -> Factors:
    # Dense SVD: deterministic (unlike ARPACK) and instant at this size.
    u, s, vt = np.linalg.svd(matrix, full_matrices=False)
    # Fix each component's sign so retraining gives the same bytes.
    signs = np.sign(vt[np.arange(len(s)), np.abs(vt).argmax(axis=1)])
    u, vt = u * signs, vt * signs[:, None]
    root = np.sqrt(s[:factor_dim])
    return Factors(
        item_embeddings=(vt[:embedding_dim].T * s[:embedding_dim]).astype(np.float32),
        item_factors=(vt[:factor_dim].T * root).astype(np.float32),
        user_factors=(u[:, :factor_dim] * root).astype(np.float32),
        singular_values=s,
    )


def top_k(scores: np.ndarray, k: int, exclude=(), allowed: np.ndarray | None = None):
    """Best k (index, score): highest score first, lower index first on ties."""
    scores = scores.astype(np.float32)
    keep = np.ones(len(scores), dtype=bool)
    keep[list(exclude)] = False
    if allowed is not None:
        keep &= allowed
    candidates = np.flatnonzero(keep)
    order = np.lexsort((candidates, -scores[candidates]))[:k]
    return [(int(candidates[i]), float(scores[candidates[i]])) for i in order]


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix.astype(np.float64), axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def similar(embeddings: np.ndarray, item: int, k: int, allowed=None, content_columns: int = 0,
            unbought: np.ndarray | None = None):
    """Cosine neighbours; an `unbought` item queries with its last `content_columns` alone
    (models/content.py)."""
    unit = normalise_rows(embeddings)
    query = unit[item].astype(np.float64)
    if content_columns and unbought is not None and unbought[item]:
        norm = np.linalg.norm(query[-content_columns:])
        if norm > 0:
            query[:-content_columns] = 0.0
            query = query / norm
    return top_k(unit @ query.astype(np.float32), k, exclude=[item], allowed=allowed)


def for_user(item_factors, user_factors, user: int, seen: list[int], k: int):
    return top_k(item_factors @ user_factors[user], k, exclude=seen)


def fold_in(item_factors: np.ndarray, history: list[int], regularisation: float) -> np.ndarray:
    """Least-squares shopper vector u = (V'V + lambda I)^-1 V' r, r = 1 on the history."""
    v = item_factors.astype(np.float64)
    r = np.zeros(len(v))
    r[history] = 1.0
    gram = v.T @ v + regularisation * np.eye(v.shape[1])
    return np.linalg.solve(gram, v.T @ r).astype(np.float32)


def for_history(item_factors, history: list[int], regularisation: float, k: int):
    shopper = fold_in(item_factors, history, regularisation)
    return top_k(item_factors @ shopper, k, exclude=history)
