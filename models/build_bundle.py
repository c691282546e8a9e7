"""Builds the default demo bundle from MovieLens-100K.

    python -m models.build_bundle --out build/bundles/ml-100k

Catalog (ids, titles, genres as categories), SVD item embeddings for
"similar", SVD factors for "for you" (known users and fold-in), the "next
up" LSTM (ONNX) trained on each user's ratings in time order, and parity
cases the Rust engine must reproduce (numpy for the SVD models,
onnxruntime for the LSTM).

Known users: MovieLens-100K is public research data, so this demo bundle
names its 943 users and holds their rated movies and factors (`users.json`,
`user_factors.f32`, for `for_user`), and its manifest says so in
`models.factors.known_users_notice`. That is on by default here and only
here (`--no-include-known-users` leaves them out); a shop's own bundle,
built by `python -m models.train`, never has them unless asked.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import random
import time
from pathlib import Path

import numpy as np

from . import bundle, factors, movielens, next_up

PARITY_K = 10
PARITY_TOLERANCE = 1e-4
KNOWN_USERS_NOTICE = ("public research data: MovieLens-100K (GroupLens, research use); this bundle names its "
                      "943 users and holds their rated movies and factors for for_user; a shop's bundle never does")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/bundles/ml-100k"))
    parser.add_argument("--cache", type=Path, default=Path("models/.cache"),
                        help="where the recbole wheel is downloaded once")
    parser.add_argument("--version", default="1")
    parser.add_argument("--created", default=None,
                        help="ISO timestamp to record (default: now, UTC)")
    parser.add_argument("--factor-dim", type=int, default=32)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--fold-in-lambda", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7, help="picks the parity inputs, seeds training")
    parser.add_argument("--next-up-dim", type=int, default=64)
    parser.add_argument("--next-up-max-len", type=int, default=50)
    parser.add_argument("--next-up-epochs", type=int, default=30,
                        help="upper bound; training stops early on the validation item")
    parser.add_argument("--hold-out-last", action="store_true",
                        help="for evaluation: train without each user's last movie, so that `edgerec eval "
                             "BUNDLE models/.cache/sequences.txt` (python -m models.build_eval_bundle --dataset "
                             "ml-100k writes it) scores this recipe on movies it never saw")
    parser.add_argument("--include-known-users", action=argparse.BooleanOptionalAction, default=True,
                        help="put MovieLens' users (ids, rated movies, factors) in the bundle: public research "
                             "data, so on by default for this demo only")
    parser.add_argument("--matrix-dtype", choices=bundle.MATRIX_DTYPES, default=bundle.DEFAULT_MATRIX_DTYPE,
                        help="how item matrices are stored: i8 (the default) or f32 (the committed channel's v1, v2)")
    args = parser.parse_args()

    started = time.time()
    items, interactions = movielens.load(args.cache)
    index_of = {item.id: i for i, item in enumerate(items)}
    # Chronological, so a user's history reads like a shopper's session.
    user_ids, sequences = movielens.user_sequences(interactions)
    user_items = [[index_of[item] for item in sequence] for sequence in sequences]
    if args.hold_out_last:
        user_items = [items_of_user[:-1] for items_of_user in user_items]

    fitted = factors.fit(factors.implicit_matrix(user_items, len(items)),
                         args.factor_dim, args.embedding_dim)
    embeddings_file, embeddings_bytes, embeddings_spec, item_embeddings = bundle.item_matrix(
        "item_embeddings", fitted.item_embeddings, args.matrix_dtype)
    factors_file, factors_bytes, factors_spec, item_factors = bundle.item_matrix(
        "item_factors", fitted.item_factors, args.matrix_dtype)
    # Parity cases score the matrices as stored.
    fitted = dataclasses.replace(fitted, item_embeddings=item_embeddings, item_factors=item_factors)
    files = {
        "catalog.json": bundle.json_bytes({"items": [
            {"id": item.id, "title": item.title, "categories": item.categories} for item in items]}),
        embeddings_file: embeddings_bytes,
        factors_file: factors_bytes,
    }
    models = {
        "similar": {"embeddings": embeddings_spec},
        "factors": {"items": factors_spec, "fold_in_lambda": args.fold_in_lambda},
    }
    if args.include_known_users:
        files["users.json"] = bundle.json_bytes({"ids": user_ids, "seen": user_items})
        files["user_factors.f32"] = bundle.matrix_bytes(fitted.user_factors)
        models["factors"].update(users=bundle.matrix_spec("user_factors.f32", fitted.user_factors),
                                 users_file="users.json", known_users_notice=KNOWN_USERS_NOTICE)
    ids = [item.id for item in items]
    lstm_files, models["next_up"], lstm_cases, lstm_model = next_up.build(
        user_items, ids, max_len=args.next_up_max_len, dim=args.next_up_dim,
        epochs=args.next_up_epochs, seed=args.seed, parity_k=PARITY_K, matrix_dtype=args.matrix_dtype)
    files.update(lstm_files)
    print(f"next_up: trained in {lstm_model.train_seconds:.0f} s, best epoch {lstm_model.best_epoch}, "
          f"validation {lstm_model.valid_metric:.4f}")
    parity = {"k": PARITY_K, "tolerance": PARITY_TOLERANCE,
              "cases": parity_cases(items, user_ids, user_items, fitted, args) + lstm_cases}
    created = args.created or dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    manifest = bundle.write_atomically(args.out, name="ml-100k", version=args.version, created=created,
                            item_count=len(items), files=files, models=models, parity=parity)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {manifest} ({size / 1e6:.2f} MB, {len(parity['cases'])} parity cases, "
          f"{time.time() - started:.1f} s)")


def parity_cases(items, user_ids, user_items, fitted: factors.Factors, args) -> list[dict]:
    """~20 real inputs and the exact top-k numpy produced for them."""
    rng = random.Random(args.seed)
    popularity = np.bincount([i for seen in user_items for i in seen], minlength=len(items))
    popular = [int(i) for i in np.argsort(-popularity, kind="stable")[:50]]
    ids = [item.id for item in items]

    def ranked(pairs):
        return [{"id": ids[i], "score": score} for i, score in pairs]

    cases = []
    for item in rng.sample(popular, 5) + rng.sample(range(len(items)), 2):
        cases.append({"kind": "similar", "item": ids[item], "category": None,
                      "expected": ranked(factors.similar(fitted.item_embeddings, item, PARITY_K))})
    for item, category in [(popular[0], "Comedy"), (popular[1], "Drama")]:
        allowed = np.array([category in it.categories for it in items])
        cases.append({"kind": "similar", "item": ids[item], "category": category,
                      "expected": ranked(factors.similar(fitted.item_embeddings, item, PARITY_K, allowed))})
    for user in rng.sample(range(len(user_ids)), 5):
        if not args.include_known_users:
            continue  # the same random draws either way, so the other cases do not change
        cases.append({"kind": "for_user", "user": user_ids[user],
                      "expected": ranked(factors.for_user(fitted.item_factors, fitted.user_factors,
                                                          user, user_items[user], PARITY_K))})
    for user in rng.sample(range(len(user_ids)), 5):
        history = user_items[user][: rng.choice([1, 3, 5, 10])]
        cases.append({"kind": "for_history", "history": [ids[i] for i in history],
                      "expected": ranked(factors.for_history(fitted.item_factors, history,
                                                             args.fold_in_lambda, PARITY_K))})
    # Unknown ids in a history are skipped, not fatal: the reference ignores them too.
    history = user_items[0][:4]
    cases.append({"kind": "for_history", "history": [ids[i] for i in history] + ["not-in-catalog"],
                  "expected": ranked(factors.for_history(fitted.item_factors, history,
                                                         args.fold_in_lambda, PARITY_K))})
    return cases


if __name__ == "__main__":
    main()
