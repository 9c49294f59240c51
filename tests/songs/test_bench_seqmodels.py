"""The baselines of bench/recsys.py: every item of a long history is a training target once
(not only the newest window), SASRec and GRU4Rec learn a fixed order, and EASE is the closed
form it claims to be."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import seqmodels  # noqa: E402


def test_windows_make_every_item_after_the_first_a_target_once():
    seqs = [list(range(1, 24)), [5, 6], [7]]
    L = 5
    ws = seqmodels.windows(seqs, L)
    assert all(len(w) == L + 1 for w in ws)
    targets = [t for w in ws for x, t in zip(w[:-1], w[1:]) if x and t]
    assert sorted(targets) == sorted(list(range(2, 24)) + [6])  # the 1-item sequence: none
    # a window of the long sequence holds consecutive items: a target's context is the items
    # just before it
    for w in ws[:-1]:
        items = [x for x in w if x]
        assert items == list(range(items[0], items[0] + len(items)))
    # the newest window ends at the newest item, left padding only in the oldest one
    assert ws[0][-1] == 23 and ws[0][0] != 0
    assert ws[-1] == [0, 0, 0, 0, 5, 6]


@pytest.mark.parametrize("make", [lambda n: seqmodels.SASRec(n, 16, 8, dropout=0.0),
                                  lambda n: seqmodels.GRU4Rec(n, 16, 8, dropout=0.0)],
                         ids=["sasrec", "gru4rec"])
def test_sequential_baselines_learn_from_the_oldest_part_of_a_long_history(make):
    # one listener walks a cycle of 11 items for 100 steps; the newest window of 8 items holds
    # 8 of the 11 steps of the cycle, so the model learns the whole cycle only if the older
    # windows train it too (11 and 8 coprime: the windows end at every phase of the cycle)
    torch.manual_seed(0)
    n, L = 11, 8
    seqs = [[t % n + 1 for t in range(100)]] * 4
    model = make(n)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(0)
    first = model.fit_epoch(seqs, opt, 16, gen)
    for _ in range(80):
        last = model.fit_epoch(seqs, opt, 16, gen)
    assert last < first / 4
    hist = [[(u + t) % n + 1 for t in range(L)] for u in range(n)]
    top = model.scores(hist).argmax(1) + 1
    assert top.tolist() == [(u + L) % n + 1 for u in range(n)]


def test_ease_fits_the_closed_form_and_ranks_by_co_occurrence():
    # two tastes: items 1-3 go together, items 4-6 go together
    seqs = [[1, 2, 3], [1, 2, 3], [2, 3, 1], [4, 5, 6], [5, 6, 4], [6, 4, 5], [1, 2], [4, 5]]
    n, lam = 6, 0.5
    ease = seqmodels.EASE(n, lam).fit(seqs)
    X = np.zeros((len(seqs), n))
    for r, s in enumerate(seqs):
        X[r, [i - 1 for i in s]] = 1
    B = ease.B.astype(np.float64)
    assert np.allclose(np.diag(B), 0)
    # the stationarity condition of min |X - XB|^2 + lam |B|^2 off the constrained diagonal
    grad = (X.T @ X + lam * np.eye(n)) @ B - X.T @ X
    off = ~np.eye(n, dtype=bool)
    assert np.abs(grad[off]).max() < 1e-4
    s = ease.scores([[1, 2], [4]]).numpy()
    s[0, [0, 1]] = s[1, 3] = -np.inf                      # the user's own items left out
    assert int(s[0].argmax()) + 1 == 3
    assert set((np.argsort(-s[1])[:2] + 1).tolist()) == {5, 6}


def test_ease_weighs_recent_items_more_with_recency():
    seqs = [[1, 2], [1, 2], [3, 4], [3, 4]]
    flat = seqmodels.EASE(4, 1.0, recency=0.0).fit(seqs).scores([[1, 3]])[0]
    recent = seqmodels.EASE(4, 1.0, recency=2.0).fit(seqs).scores([[1, 3]])[0]
    assert abs(float(flat[1] - flat[3])) < 1e-6        # 1 and 3 weigh the same: a tie
    assert float(recent[3]) > float(recent[1])           # 3 is newer: its partner 4 first
