"""The "next up" part of a bundle: train the LSTM, export it, and record
parity cases computed by onnxruntime running the exported file, so the
engine (tract) is checked against an independent ONNX runtime.
"""

from __future__ import annotations

import random

import numpy as np

from . import bundle, factors
from .sequence import lstm

ENCODER_FILE = "next_up.onnx"
ITEMS_NAME = "next_up_items"


def build(sequences: list[list[int]], item_ids: list[str], *, max_len: int, dim: int, epochs: int,
          seed: int, parity_k: int, log=print, parity_histories: list[list[int]] | None = None,
          matrix_dtype: str = bundle.DEFAULT_MATRIX_DTYPE, **train_options):
    """Trains on `sequences` (catalog rows, oldest first; the caller has already
    removed anything held out for testing). Returns (files, model spec,
    parity cases, trained model). The parity cases run prefixes of real
    sequences unless `parity_histories` are given: a shop's bundle passes
    made-up ones, so that no shopper's history is published."""
    model = lstm.train_next_up(sequences, len(item_ids), max_len=max_len, dim=dim, epochs=epochs,
                               seed=seed, valid=True, log=log, **train_options)
    files, spec, cases = package(model, sequences, item_ids, parity_k=parity_k, seed=seed,
                                 parity_histories=parity_histories, matrix_dtype=matrix_dtype)
    return files, spec, cases, model


def package(model: lstm.NextUpModel, sequences, item_ids, *, parity_k: int, seed: int,
            parity_histories=None, matrix_dtype: str = bundle.DEFAULT_MATRIX_DTYPE):
    """A trained model's bundle files, model spec and parity cases, its output
    item matrix stored as `matrix_dtype`."""
    items_file, items_bytes, items_spec, items = bundle.item_matrix(ITEMS_NAME, model.item_matrix, matrix_dtype)
    files = {ENCODER_FILE: model.onnx_bytes, items_file: items_bytes}
    spec = {"encoder": ENCODER_FILE, "items": items_spec, "max_len": model.max_len}
    cases = parity_cases(model, items, sequences, item_ids, parity_k, seed, histories=parity_histories)
    return files, spec, cases


def top_k(model: lstm.NextUpModel, items: np.ndarray, history: list[int], k: int):
    """What the engine must answer: onnxruntime's query, scored against the
    item matrix as stored (`items`), history excluded."""
    query = lstm.onnx_query(model.onnx_bytes, history, model.max_len)
    return factors.top_k(items @ query, k, exclude=history)


def parity_cases(model, items, sequences, item_ids, k: int, seed: int, histories=None) -> list[dict]:
    if histories is None:
        rng = random.Random(seed)
        long = [s for s in sequences if len(s) > model.max_len]
        candidates = [s for s in sequences if len(s) >= 2] or [s for s in sequences if s]
        picks = rng.sample(candidates, min(5, len(candidates)))
        histories = [s[: rng.choice([1, 2, 5, 12, 30])] for s in picks]
        if long:  # longer than max_len: only the most recent max_len items count
            histories.append(list(rng.choice(long)))
    cases = []
    for history in histories:
        ranked = [{"id": item_ids[i], "score": s} for i, s in top_k(model, items, history, k)]
        cases.append({"kind": "next_up", "history": [item_ids[i] for i in history], "expected": ranked})
    # An unknown id is skipped by the engine, so the answer is the first case's.
    cases.append({**cases[0], "history": ["not-in-catalog"] + cases[0]["history"]})
    return cases
