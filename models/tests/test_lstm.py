"""The next-up trainer's refit (the validation items choose the epoch count,
then the model is trained on them too) and its item drop (each epoch trains
on the sequences with some of their items left out)."""

from __future__ import annotations

import unittest

import numpy as np

from models.sequence import lstm


def sequences(n_items: int = 40, users: int = 300, seed: int = 0) -> list[list[int]]:
    """Cycles through the catalogue, except that every user's last step goes
    from item 0 to item 1, a step seen nowhere else (0 is followed by 2 in
    every other place it occurs)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(users):
        start = int(rng.integers(2, n_items))
        body = [(start + i) % n_items for i in range(int(rng.integers(4, 12)))]
        body = [2 if i == 1 else i for i in body if i != 0]  # no 0 -> anything in the body
        out.append(body + [0, 1])
    return out


def rank_of(model: lstm.NextUpModel, history: list[int], item: int) -> int:
    scores = model.item_matrix @ lstm.onnx_query(model.onnx_bytes, history, model.max_len)
    return int((scores > scores[item]).sum())


class RefitTest(unittest.TestCase):
    def train(self, **options) -> lstm.NextUpModel:
        return lstm.train_next_up(sequences(), 40, max_len=10, dim=16, epochs=12, seed=0, valid=True, lr=1e-2,
                                  patience=12, log=lambda _: None, **options)

    def test_the_refit_learns_the_held_out_last_steps(self):
        history = sequences()[0][:-1]  # ends with 0
        refit = self.train()
        held_out = self.train(refit=False)
        self.assertEqual(rank_of(refit, history, 1), 0, "after the refit, 1 follows 0")
        self.assertGreater(rank_of(held_out, history, 1), 0, "without it, 0 -> 1 was never trained on")
        self.assertEqual(refit.best_epoch, held_out.best_epoch)

    def test_a_refit_that_would_not_fit_the_budget_is_skipped(self):
        said = []
        lstm.train_next_up(sequences(), 40, max_len=10, dim=16, epochs=3, seed=0, valid=True, patience=3,
                           max_seconds=1e-9, log=said.append)
        self.assertTrue(any(line.startswith("no refit") for line in said), said)


class ItemDropTest(unittest.TestCase):
    def test_items_are_left_out_at_the_rate_asked_the_last_always_kept(self):
        rng = np.random.default_rng(0)
        seqs = [list(range(user, user + 20)) for user in range(500)]
        thinned = lstm._dropped(seqs, 0.1, rng)
        left_out = sum(len(s) - len(t) for s, t in zip(seqs, thinned)) / sum(len(s) for s in seqs)
        self.assertAlmostEqual(left_out, 0.1 * 19 / 20, delta=0.01)
        for s, t in zip(seqs, thinned):
            self.assertEqual(t[-1], s[-1])
            self.assertEqual(t, sorted(t), "the order is kept")
            self.assertTrue(set(t) <= set(s))
        self.assertNotEqual(thinned, lstm._dropped(seqs, 0.1, rng), "each epoch draws afresh")
        self.assertEqual(lstm._dropped(seqs, 0.0, rng), seqs)

    def test_a_sequence_left_with_one_item_is_kept_whole(self):
        rng = np.random.default_rng(0)
        self.assertEqual(lstm._dropped([[3, 4], [5, 6, 7]], 1.0, rng), [[3, 4], [5, 6, 7]])


if __name__ == "__main__":
    unittest.main()
