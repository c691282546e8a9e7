"""Next-item LSTM recommender: trained with JAX on CPU, exported to ONNX.

Model
-----
    history (int64 [1, max_len], catalog index + 1, 0 = padding, left-padded)
      -> Gather(emb_table)            [1, max_len, dim + 1]
      -> Transpose(1, 0, 2)           [max_len, 1, dim + 1]
      -> LSTM(hidden = dim)           Y_h [1, 1, dim]
      -> Squeeze(axes = 0)            query [1, dim]

    score(item i) = dot(query, item_matrix[i])      (no bias)

Padding is an exact no-op by construction.  The Gather table has one extra
input column that is 1 for the padding row and 0 for every item row, and the
matching column of the LSTM input weights is fixed (not trained) to -1e4 on
the input-gate rows and 0 elsewhere.  From the zero initial state a padding
step therefore gives i = sigmoid(-1e4) = 0, so c = f * 0 + 0 * g = 0 and
h = o * tanh(0) = 0: the state stays exactly zero however many padding
positions precede the first item.  Consequently a left-padded window of
length max_len yields exactly the same final state as the unpadded history,
which lets training run every position of a user's sequence in one causal
pass (in length buckets) while computing exactly what the exported graph
computes at inference.  No `sequence_lens` input is needed.

The LSTM parameters are kept internally in ONNX gate order (i, o, f, c) so
the export is a plain copy; the JAX cell below follows the ONNX LSTM
equations (default activations sigmoid/tanh/tanh, no peepholes).

Defaults (chosen on the validation item, docs/quality.md): dim 64, max_len
50, Adam lr 2e-3, ~256 targets per batch, embedding dropout 0.3, dropout 0.5
on the LSTM's output (training only: the exported graph has none), item
drop 0.1 (each epoch every sequence loses each item but its last with that
probability, drawn afresh), no weight decay, separate output matrix, early
stopping patience 3 on validation NDCG@10, then a refit: trained again
from the start on every sequence (the validation items included) for the
chosen number of epochs. Full softmax up to 16,384 items, above that a
sampled softmax with 4,096 shared uniform negatives (full softmax was ~4x
slower per epoch on the 23.7k-item Games catalogue). Accuracy, measured
through the Rust engine: docs/next-up.md.

Self-check:  python -m models.sequence.lstm --selftest   (from the repo root)
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
import time
from typing import Callable, Sequence

import numpy as np

PAD_GATE = -1.0e4  # fixed input-gate pre-activation of the padding row
OPSET = 14
FULL_SOFTMAX_MAX_ITEMS = 16384  # "auto": full softmax up to this catalogue size,
AUTO_NEGATIVES = 4096  # else sampled softmax with this many shared uniform negatives
BUCKETS = (4, 8, 16, 32, 50, 64, 100, 128, 200, 256)


@dataclasses.dataclass
class NextUpModel:
    onnx_bytes: bytes
    item_matrix: np.ndarray  # float32 (n_items, dim); row i scores catalog item i
    max_len: int
    dim: int
    train_seconds: float
    best_epoch: int
    valid_metric: float  # validation NDCG@10 at the best epoch
    valid_hit_rate: float = float("nan")  # and HR@10
    valid_sampled: tuple = (float("nan"), float("nan"))  # HR@10, NDCG@10 against 100 uniform negatives


# --------------------------------------------------------------------------
# JAX model
# --------------------------------------------------------------------------


def _jax():
    import jax
    import jax.numpy as jnp

    return jax, jnp


def _init_params(n_items: int, dim: int, seed: int, tied: bool) -> dict:
    rng = np.random.default_rng(seed)
    h = dim
    s = 1.0 / math.sqrt(h)
    p = {
        "emb": rng.normal(0.0, 0.05 if not tied else s, (n_items + 1, dim)),
        "W": rng.uniform(-s, s, (4 * h, dim)),
        "R": rng.uniform(-s, s, (4 * h, h)),
        "b": np.zeros(4 * h),
    }
    p["b"][2 * h : 3 * h] = 1.0  # forget-gate bias (ONNX order i, o, f, c)
    if not tied:
        p["out"] = rng.normal(0.0, s, (n_items, h))
    return {k: np.asarray(v, np.float32) for k, v in p.items()}


def _pad_col(h: int) -> np.ndarray:
    col = np.zeros(4 * h, np.float32)
    col[:h] = PAD_GATE  # input gate rows
    return col


def _out_matrix(params):
    return params["out"] if "out" in params else params["emb"][1:]


def _lstm(params, tokens, drop_key=None, drop_rate=0.0):
    """tokens int32 [B, T] (catalog+1, 0 = pad).  Returns (hs [B, T, h], h_T [B, h])."""
    jax, jnp = _jax()
    h = params["R"].shape[1]
    is_pad = tokens == 0
    x = jnp.where(is_pad[..., None], 0.0, params["emb"][tokens])
    if drop_key is not None and drop_rate > 0.0:
        keep = jax.random.bernoulli(drop_key, 1.0 - drop_rate, x.shape)
        x = jnp.where(keep, x / (1.0 - drop_rate), 0.0)
    xw = jnp.einsum("btd,gd->btg", x, params["W"]) + params["b"]
    xw = xw + jnp.where(is_pad[..., None], jnp.asarray(_pad_col(h)), 0.0)
    R_t = params["R"].T

    def step(carry, xw_t):
        hp, cp = carry
        z = xw_t + hp @ R_t
        i = jax.nn.sigmoid(z[:, :h])
        o = jax.nn.sigmoid(z[:, h : 2 * h])
        f = jax.nn.sigmoid(z[:, 2 * h : 3 * h])
        g = jnp.tanh(z[:, 3 * h :])
        c = f * cp + i * g
        hn = o * jnp.tanh(c)
        return (hn, c), hn

    B = tokens.shape[0]
    zero = jnp.zeros((B, h), jnp.float32)
    (hT, _), hs = jax.lax.scan(step, (zero, zero), jnp.swapaxes(xw, 0, 1))
    return jnp.swapaxes(hs, 0, 1), hT


def _loss(params, tokens, pos, targets, neg, key, emb_drop, out_drop):
    """Mean next-item cross-entropy over the positions `pos` (flat indices into
    tokens) whose targets are `targets` (catalog+1; 0 = unused slot).

    neg is None: full softmax over the catalogue.  Otherwise neg holds S
    catalogue indices sampled uniformly for the whole batch and the loss is the
    sampled softmax over {target} + neg, the negatives' logits shifted by
    log(n_items / S) so that the sampled partition estimates the full one."""
    jax, jnp = _jax()
    k1, k2 = jax.random.split(key)
    hs, _ = _lstm(params, tokens, k1, emb_drop)
    hs = hs.reshape(-1, hs.shape[-1])[pos]
    if out_drop > 0.0:
        keep = jax.random.bernoulli(k2, 1.0 - out_drop, hs.shape)
        hs = jnp.where(keep, hs / (1.0 - out_drop), 0.0)
    mask = (targets > 0).astype(jnp.float32)
    out = _out_matrix(params)
    tg = jnp.maximum(targets - 1, 0)
    tgt = jnp.sum(hs * out[tg], axis=-1)
    if neg is None:
        lse = jax.nn.logsumexp(hs @ out.T, axis=-1)
    else:
        shift = math.log(out.shape[0] / neg.shape[0])
        nl = hs @ out[neg].T + shift
        nl = jnp.where(neg[None, :] == tg[:, None], -jnp.inf, nl)
        lse = jax.nn.logsumexp(jnp.concatenate([tgt[:, None], nl], axis=1), axis=-1)
    return jnp.sum((lse - tgt) * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def _make_train_step(lr, weight_decay, emb_drop, out_drop, b1=0.9, b2=0.999, eps=1e-8):
    jax, jnp = _jax()

    def train_step(params, m, v, t, tokens, pos, targets, neg, key):
        loss, grads = jax.value_and_grad(_loss)(
            params, tokens, pos, targets, neg, key, emb_drop, out_drop
        )
        t = t + 1
        bc1 = 1.0 - b1**t
        bc2 = 1.0 - b2**t
        new_p, new_m, new_v = {}, {}, {}
        for k in params:
            g = grads[k]
            mk = b1 * m[k] + (1.0 - b1) * g
            vk = b2 * v[k] + (1.0 - b2) * g * g
            upd = (mk / bc1) / (jnp.sqrt(vk / bc2) + eps)
            if weight_decay > 0.0 and k != "b":
                upd = upd + weight_decay * params[k]  # decoupled (AdamW)
            new_p[k] = params[k] - lr * upd
            new_m[k], new_v[k] = mk, vk
        return new_p, new_m, new_v, t, loss

    return jax.jit(train_step)


def _make_rank_fn():
    """Full-catalogue rank of each target (number of items scoring strictly higher)."""
    jax, jnp = _jax()

    def rank(q, items, tgt):
        scores = q @ items.T
        ts = jnp.sum(q * items[tgt], axis=-1)
        return jnp.sum(scores > ts[:, None], axis=-1)

    return jax.jit(rank)


# --------------------------------------------------------------------------
# Data preparation
# --------------------------------------------------------------------------


def hr_ndcg_at_10(ranks) -> tuple[float, float]:
    """(HR@10, NDCG@10) of the targets' 0-based ranks."""
    ranks = np.asarray(ranks)
    hit = ranks < 10
    return float(np.mean(hit)), float(np.mean(np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0)))


def uniform_unseen(histories, targets, n_items, count, rng) -> np.ndarray:
    """[len(targets), count] items drawn uniformly from those neither in the
    user's history nor the target (with replacement among themselves)."""
    out = np.zeros((len(targets), count), np.int32)
    for u, (history, target) in enumerate(zip(histories, targets)):
        seen = set(history) | {int(target)}
        picked = []
        while len(picked) < count:
            picked.extend(int(i) for i in rng.integers(0, n_items, count) if int(i) not in seen)
        out[u] = picked[:count]
    return out


def _bucket_len(n: int) -> int:
    for b in BUCKETS:
        if n <= b:
            return b
    return n


def _training_windows(sequences, max_len):
    """Causal windows (input, target) of input length <= max_len, grouped by bucket.

    A sequence longer than max_len + 1 is cut from its end into windows of
    max_len + 1 items overlapping by one item, so each target is predicted
    exactly once; within the last window every target sees its full
    max_len-item context, as at inference.
    """
    by_bucket: dict[int, list] = {}
    for s in sequences:
        s = np.asarray(s, np.int64) + 1
        end = len(s)
        while end >= 2:
            start = max(0, end - (max_len + 1))
            w = s[start:end]
            by_bucket.setdefault(_bucket_len(len(w) - 1), []).append(w)
            end = start + 1
            if start == 0:
                break
    out = {}
    for T, ws in by_bucket.items():
        inp = np.zeros((len(ws), T), np.int32)
        tgt = np.zeros((len(ws), T), np.int32)
        for r, w in enumerate(ws):
            L = len(w) - 1
            inp[r, T - L :] = w[:-1]
            tgt[r, T - L :] = w[1:]
        out[T] = (inp, tgt)
    return out


def _dropped(sequences, rate, rng):
    """Each sequence with each item but its last left out with probability
    `rate` (a fresh draw per call); one left with fewer than 2 items is kept whole."""
    out = []
    for s in sequences:
        keep = rng.random(len(s)) >= rate
        keep[-1] = True
        kept = [item for item, k in zip(s, keep) if k]
        out.append(kept if len(kept) >= 2 else list(s))
    return out


def _packed_batches(windows, batch_tokens, rng):
    """Shuffled batches of whole windows, packed so each holds <= batch_tokens targets.

    Per bucket T every batch has the same static shapes: tokens [B_max, T]
    (unused rows all padding), pos [batch_tokens] (flat positions of the
    targets, unused slots 0) and targets [batch_tokens] (unused slots 0), so
    the softmax is computed for real targets only.
    Returns a list of (tokens, pos, targets, n_targets)."""
    out = []
    for T in sorted(windows):
        inp, tgt = windows[T]
        lo = max([b for b in BUCKETS if b < T] + [0])  # windows here have > lo inputs
        B_max = batch_tokens // (lo + 1) + 1
        lens = (inp > 0).sum(1)
        order = rng.permutation(len(inp))
        start = 0
        while start < len(order):
            used, end = 0, start
            while end < len(order) and end - start < B_max and used + lens[order[end]] <= batch_tokens:
                used += int(lens[order[end]])
                end += 1
            if end == start:  # a single window longer than batch_tokens: truncate its targets
                end = start + 1
            idx = order[start:end]
            bi = np.zeros((B_max, T), np.int32)
            bi[: len(idx)] = inp[idx]
            bt_full = np.zeros((B_max, T), np.int32)
            bt_full[: len(idx)] = tgt[idx]
            flat = np.flatnonzero(bt_full.reshape(-1))[:batch_tokens]
            pos = np.zeros(batch_tokens, np.int32)
            tg = np.zeros(batch_tokens, np.int32)
            pos[: len(flat)] = flat
            tg[: len(flat)] = bt_full.reshape(-1)[flat]
            out.append((bi, pos, tg, len(flat)))
            start = end
    return out


def _history_batches(histories, max_len):
    """Left-padded last-max_len windows of histories, grouped by bucket length.

    Returns list of (row_indices, tokens[int32 n, T])."""
    groups: dict[int, list] = {}
    for r, hst in enumerate(histories):
        L = min(len(hst), max_len)
        groups.setdefault(_bucket_len(max(L, 1)), []).append(r)
    res = []
    for T, rows in sorted(groups.items()):
        tok = np.zeros((len(rows), T), np.int32)
        for j, r in enumerate(rows):
            hst = histories[r][-max_len:] if len(histories[r]) else []
            if len(hst):
                tok[j, T - len(hst) :] = np.asarray(hst, np.int64) + 1
        res.append((np.asarray(rows), tok))
    return res


def _queries_jax(params, histories, max_len, fwd, chunk=2048):
    h = params["R"].shape[1]
    Q = np.zeros((len(histories), h), np.float32)
    for rows, tok in _history_batches(histories, max_len):
        for a in range(0, len(rows), chunk):
            t = tok[a : a + chunk]
            n = len(t)
            if n < chunk and len(rows) > chunk:  # keep shapes static
                t = np.concatenate([t, np.zeros((chunk - n, t.shape[1]), np.int32)])
            Q[rows[a : a + n]] = np.asarray(fwd(params, t))[:n]
    return Q


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------


def train_next_up(
    sequences: Sequence[Sequence[int]],
    n_items: int,
    *,
    max_len: int = 50,
    dim: int = 64,
    epochs: int = 40,
    seed: int = 0,
    valid: bool = True,
    log: Callable[[str], None] = print,
    lr: float = 2e-3,
    batch_tokens: int = 256,
    emb_dropout: float = 0.3,
    out_dropout: float = 0.5,
    weight_decay: float = 0.0,
    tied: bool = False,
    item_drop: float = 0.1,
    patience: int = 3,
    negatives: int | str | None = "auto",
    max_seconds: float | None = None,
    valid_users: int = 10000,
    refit: bool = True,
) -> NextUpModel:
    """Train the next-item LSTM; see the module docstring for the model.

    sequences: per user, chronological 0-based catalogue indices.  With
    valid=True each user's last item (users with >= 2 items) is held out and
    the model is early-stopped (patience epochs) on full-ranking NDCG@10 of
    those items (at most valid_users users, sampled with a fixed seed); with
    refit=True (the default) it is then trained again from the start on the
    whole sequences for the best epoch count and that model is exported, else
    the best epoch's parameters are.  valid_metric and valid_hit_rate are
    the best epoch's either way.  Every position of the remaining
    sequence predicts its next item from (at most) the max_len items before
    it.  Loss: softmax cross-entropy, over the full catalogue when
    negatives is None (or "auto" and n_items <= FULL_SOFTMAX_MAX_ITEMS),
    otherwise sampled softmax with `negatives` uniform negatives shared by
    each batch.  Adam (decoupled weight decay), batches of about
    batch_tokens targets, dropout on the input embeddings and on the
    LSTM outputs the loss scores; with item_drop, each epoch trains on the
    sequences with each item but the last left out with that probability.
    """
    jax, jnp = _jax()
    t0 = time.time()
    if valid:
        train_seqs, v_hist, v_tgt = [], [], []
        for s in sequences:
            s = list(s)
            if len(s) >= 2:
                train_seqs.append(s[:-1])
                v_hist.append(s[:-1])
                v_tgt.append(s[-1])
            else:
                train_seqs.append(s)
        vr = np.random.default_rng(seed + 17)
        if len(v_tgt) > valid_users:
            pick = vr.choice(len(v_tgt), valid_users, replace=False)
            v_hist = [v_hist[i] for i in pick]
            v_tgt = [v_tgt[i] for i in pick]
        v_tgt = np.asarray(v_tgt, np.int32)
        v_neg = uniform_unseen(v_hist, v_tgt, n_items, 100, vr)
        if len(v_tgt) == 0:
            log("lstm: no user has a validation item; training without validation")
            valid = False
    else:
        train_seqs = [list(s) for s in sequences]

    windows = _training_windows(train_seqs, max_len)
    if negatives == "auto":
        negatives = None if n_items <= FULL_SOFTMAX_MAX_ITEMS else AUTO_NEGATIVES
    sampled = negatives is not None and 0 < negatives < n_items
    n_targets = sum(int((t > 0).sum()) for _, t in windows.values())
    log(
        f"lstm: {len(sequences)} users, {n_items} items, {n_targets} training targets, "
        f"dim={dim} max_len={max_len} lr={lr} batch_tokens={batch_tokens} "
        f"emb_dropout={emb_dropout} out_dropout={out_dropout} item_drop={item_drop} wd={weight_decay} tied={tied} "
        f"softmax={'sampled %d' % negatives if sampled else 'full'}"
    )

    step = _make_train_step(lr, weight_decay, emb_dropout, out_dropout)
    fwd = jax.jit(lambda p, tok: _lstm(p, tok)[1])
    rank_fn = _make_rank_fn()
    key = jax.random.PRNGKey(seed)

    def fresh():
        """Initial parameters, optimiser state [params, m, v, t] and the seeded batch order."""
        params = {k: jnp.asarray(v) for k, v in _init_params(n_items, dim, seed, tied).items()}
        zeros = lambda: {k: jnp.zeros_like(v) for k, v in params.items()}  # noqa: E731
        return [params, zeros(), zeros(), jnp.asarray(0, jnp.int32)], np.random.default_rng(seed)

    def epoch_windows(seqs, fixed, rng):
        """What an epoch trains on: `fixed` (the windows of `seqs`), or with
        item_drop the windows of a fresh thinned copy of `seqs`."""
        return _training_windows(_dropped(seqs, item_drop, rng), max_len) if item_drop > 0.0 else fixed

    def train_epoch(state, windows, rng):
        """One pass over `windows` in shuffled batches, updating `state`; the mean loss."""
        total, count = 0.0, 0
        batches = _packed_batches(windows, batch_tokens, rng)
        for bidx in rng.permutation(len(batches)):
            bi, bp, bt, w = batches[bidx]
            neg = rng.integers(0, n_items, negatives).astype(np.int32) if sampled else None
            number = int(state[3]) + 1  # the step about to run, which draws its own dropout
            *updated, loss = step(*state, bi, bp, bt, neg, jax.random.fold_in(key, number))
            state[:] = updated
            total += float(loss) * w
            count += w
        return total / max(count, 1)

    state, rng = fresh()

    def evaluate(p):
        Q = _queries_jax(p, v_hist, max_len, fwd)
        items = _out_matrix(p)
        ranks = []
        for a in range(0, len(Q), 1024):
            q = Q[a : a + 1024]
            tg = v_tgt[a : a + 1024]
            n = len(q)
            if n < 1024:
                q = np.concatenate([q, np.zeros((1024 - n, q.shape[1]), np.float32)])
                tg = np.concatenate([tg, np.zeros(1024 - n, np.int32)])
            ranks.append(np.asarray(rank_fn(q, items, tg))[:n])
        # The same items against 100 uniformly drawn ones the user has not seen (reported, not chosen on).
        item_rows = np.asarray(items)
        ts = np.sum(Q * item_rows[v_tgt], axis=1)
        rs = np.zeros(len(Q), np.int64)
        for a in range(0, len(Q), 1024):  # 1,024 users' negatives gathered at a time
            ns = np.einsum("nd,nkd->nk", Q[a : a + 1024], item_rows[v_neg[a : a + 1024]])
            rs[a : a + 1024] = np.sum(ns > ts[a : a + 1024, None], axis=1)
        return (*hr_ndcg_at_10(np.concatenate(ranks)), hr_ndcg_at_10(rs))

    best = (-1.0, 0, None)
    best_hit_rate = float("nan")
    best_sampled = (float("nan"), float("nan"))
    bad = 0
    for epoch in range(1, epochs + 1):
        te = time.time()
        loss = train_epoch(state, epoch_windows(train_seqs, windows, rng), rng)
        params = state[0]
        msg = f"epoch {epoch:3d} loss {loss:.4f}"
        if valid:
            hr, ndcg, sampled_metrics = evaluate(params)
            msg += f" valid HR@10 {hr:.4f} NDCG@10 {ndcg:.4f} sampled {sampled_metrics[0]:.4f} {sampled_metrics[1]:.4f}"
            if ndcg > best[0]:
                best = (ndcg, epoch, jax.tree_util.tree_map(np.asarray, params))
                best_hit_rate = hr
                best_sampled = sampled_metrics
                bad = 0
            else:
                bad += 1
        else:
            best = (float("nan"), epoch, jax.tree_util.tree_map(np.asarray, params))
        log(f"{msg} {time.time() - te:.1f}s (total {time.time() - t0:.0f}s)")
        if valid and bad >= patience:
            log(f"early stop: best epoch {best[1]} NDCG@10 {best[0]:.4f}")
            break
        if max_seconds is not None and time.time() - t0 > max_seconds:
            log(f"time budget reached after epoch {epoch}")
            break

    valid_metric, best_epoch, bp = best
    if valid and refit and max_seconds is not None:
        # The budget covers the refit too: one that would not fit is skipped.
        per_epoch = (time.time() - t0) / max(epoch, 1)
        if time.time() - t0 + per_epoch * best_epoch > max_seconds:
            log(f"no refit: {best_epoch} more epochs would pass the {max_seconds:.0f} s budget")
            refit = False
    if valid and refit:
        # The validation items were held out only to choose the epoch count:
        # train again from the start on every sequence for that many epochs,
        # so the model learns each user's most recent step too.
        state, rng = fresh()
        whole = [list(s) for s in sequences]
        windows = None if item_drop > 0.0 else _training_windows(whole, max_len)  # else built each epoch
        for epoch in range(1, best_epoch + 1):
            te = time.time()
            loss = train_epoch(state, epoch_windows(whole, windows, rng), rng)
            log(f"refit epoch {epoch:3d} loss {loss:.4f} {time.time() - te:.1f}s (total {time.time() - t0:.0f}s)")
        bp = jax.tree_util.tree_map(np.asarray, state[0])
    bp = {k: np.asarray(v, np.float32) for k, v in bp.items()}
    onnx_bytes = export_onnx(bp, max_len)
    item_matrix = np.ascontiguousarray(_out_matrix(bp), np.float32)
    return NextUpModel(
        onnx_bytes=onnx_bytes,
        item_matrix=item_matrix,
        max_len=max_len,
        dim=dim,
        train_seconds=time.time() - t0,
        best_epoch=best_epoch,
        valid_metric=valid_metric,
        valid_hit_rate=best_hit_rate,
        valid_sampled=best_sampled,
    )


# --------------------------------------------------------------------------
# ONNX export and inference
# --------------------------------------------------------------------------


def untrained(n_items: int, dim: int, max_len: int, seed: int = 0) -> NextUpModel:
    """The model as initialised, never trained: the shipped shape and sizes
    with meaningless answers (benchmarks at catalog sizes no dataset has)."""
    params = _init_params(n_items, dim, seed, tied=False)
    return NextUpModel(onnx_bytes=export_onnx(params, max_len),
                       item_matrix=np.ascontiguousarray(_out_matrix(params), np.float32), max_len=max_len,
                       dim=dim, train_seconds=0.0, best_epoch=0, valid_metric=float("nan"))


def export_onnx(params: dict, max_len: int) -> bytes:
    """Serialize the query network (numpy params, ONNX gate order) to ONNX bytes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    emb = np.asarray(params["emb"], np.float32)
    W = np.asarray(params["W"], np.float32)
    R = np.asarray(params["R"], np.float32)
    b = np.asarray(params["b"], np.float32)
    n1, d = emb.shape
    h = R.shape[1]
    table = np.zeros((n1, d + 1), np.float32)
    table[1:, :d] = emb[1:]
    table[0, d] = 1.0  # padding indicator column
    W_full = np.concatenate([W, _pad_col(h)[:, None]], axis=1)  # [4h, d + 1]
    B = np.concatenate([b, np.zeros(4 * h, np.float32)])  # Wb then Rb

    inits = [
        numpy_helper.from_array(table, "item_embedding"),
        numpy_helper.from_array(W_full[None], "lstm_W"),
        numpy_helper.from_array(R[None], "lstm_R"),
        numpy_helper.from_array(B[None], "lstm_B"),
        numpy_helper.from_array(np.array([0], np.int64), "squeeze_axes"),
    ]
    nodes = [
        helper.make_node("Gather", ["item_embedding", "history"], ["emb"], axis=0),
        helper.make_node("Transpose", ["emb"], ["emb_tbd"], perm=[1, 0, 2]),
        helper.make_node(
            "LSTM",
            ["emb_tbd", "lstm_W", "lstm_R", "lstm_B"],
            ["", "Y_h"],
            hidden_size=h,
            direction="forward",
        ),
        helper.make_node("Squeeze", ["Y_h", "squeeze_axes"], ["query"]),
    ]
    graph = helper.make_graph(
        nodes,
        "edgerec_next_up_lstm",
        [helper.make_tensor_value_info("history", TensorProto.INT64, [1, max_len])],
        [helper.make_tensor_value_info("query", TensorProto.FLOAT, [1, h])],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="edgerec-models",
    )
    model.ir_version = 8  # readable by onnxruntime and tract
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def history_tensor(history_indices: Sequence[int], max_len: int) -> np.ndarray:
    """0-based catalog indices -> int64 [1, max_len], +1 shifted, left-padded."""
    hst = list(history_indices)[-max_len:] if max_len > 0 else []
    x = np.zeros((1, max_len), np.int64)
    if hst:
        x[0, max_len - len(hst) :] = np.asarray(hst, np.int64) + 1
    return x


_SESSIONS: dict[bytes, object] = {}


def _session(onnx_bytes: bytes):
    import onnxruntime as ort

    key = hashlib.sha256(onnx_bytes).digest()
    s = _SESSIONS.get(key)
    if s is None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        s = ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])
        if len(_SESSIONS) > 4:
            _SESSIONS.clear()
        _SESSIONS[key] = s
    return s


def onnx_query(onnx_bytes: bytes, history_indices: Sequence[int], max_len: int) -> np.ndarray:
    """Run the exported graph with onnxruntime; returns the float32 query (dim,)."""
    sess = _session(onnx_bytes)
    (q,) = sess.run(["query"], {"history": history_tensor(history_indices, max_len)})
    return np.asarray(q[0], np.float32)


# --------------------------------------------------------------------------
# Self-test
# --------------------------------------------------------------------------


def _selftest() -> None:
    jax, jnp = _jax()
    n_items, max_len, dim = 60, 20, 32
    rng = np.random.default_rng(0)
    seqs = []
    for _ in range(600):
        L = int(rng.integers(3, 60))
        start = int(rng.integers(0, n_items))
        seqs.append([(start + k) % n_items for k in range(L)])
    t0 = time.time()
    model = train_next_up(
        seqs, n_items, max_len=max_len, dim=dim, epochs=8, seed=0, valid=True, lr=5e-3, patience=8
    )
    print(f"selftest: trained in {time.time() - t0:.1f}s, best epoch {model.best_epoch}, "
          f"valid NDCG@10 {model.valid_metric:.4f}")
    assert model.item_matrix.shape == (n_items, dim) and model.item_matrix.dtype == np.float32

    # (1) onnxruntime == JAX forward (full left-padded max_len window and short bucket)
    import onnx
    from onnx import numpy_helper

    g = onnx.load_from_string(model.onnx_bytes).graph
    init = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    table = init["item_embedding"]
    params = {
        "emb": jnp.asarray(np.concatenate([np.zeros((1, dim), np.float32), table[1:, :dim]])),
        "W": jnp.asarray(init["lstm_W"][0][:, :dim]),
        "R": jnp.asarray(init["lstm_R"][0]),
        "b": jnp.asarray(init["lstm_B"][0][: 4 * dim]),
        "out": jnp.asarray(model.item_matrix),
    }
    fwd = jax.jit(lambda p, tok: _lstm(p, tok)[1])
    worst = 0.0
    for L in [0, 1, 2, 5, 13, max_len - 1, max_len, max_len + 1, 37, 3 * max_len]:
        for _ in range(3):
            hst = list(rng.integers(0, n_items, L))
            q_onnx = onnx_query(model.onnx_bytes, hst, max_len)
            q_full = np.asarray(fwd(params, history_tensor(hst, max_len).astype(np.int32)))[0]
            q_short = _queries_jax(params, [hst], max_len, fwd)[0]
            d = max(np.abs(q_onnx - q_full).max(), np.abs(q_onnx - q_short).max())
            worst = max(worst, float(d))
            assert q_onnx.shape == (dim,) and q_onnx.dtype == np.float32
            assert d < 1e-5, (L, d)
    print(f"selftest: onnxruntime vs JAX max abs diff {worst:.2e}")

    # (2) learned the pattern k -> k+1
    hits = 0
    trials = 200
    for _ in range(trials):
        L = int(rng.integers(1, 2 * max_len))
        start = int(rng.integers(0, n_items))
        hst = [(start + k) % n_items for k in range(L)]
        scores = model.item_matrix @ onnx_query(model.onnx_bytes, hst, max_len)
        nxt = (hst[-1] + 1) % n_items
        hits += int((scores > scores[nxt]).sum() < 10)
    hr = hits / trials
    print(f"selftest: pattern HR@10 {hr:.3f}")
    assert hr >= 0.95, hr

    # (3) the sampled-softmax path trains too
    sm = train_next_up(seqs, n_items, max_len=max_len, dim=dim, epochs=3, seed=1, valid=True,
                       lr=5e-3, negatives=20, log=lambda msg: None)
    assert np.isfinite(sm.item_matrix).all() and sm.valid_metric > 0.3, sm.valid_metric
    print(f"selftest: sampled softmax (20 negatives) valid NDCG@10 after 3 epochs {sm.valid_metric:.3f}")
    print("selftest: OK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--selftest", action="store_true")
    args = ap.parse_args()
    if args.selftest:
        _selftest()
    else:
        ap.print_help()


if __name__ == "__main__":
    main()
