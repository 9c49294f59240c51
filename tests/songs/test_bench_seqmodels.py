"""The sequential baselines of bench/recsys.py: every item of a long history is a training
target once (not only the newest window), and SASRec and GRU4Rec learn a fixed order."""
from __future__ import annotations

import sys
from pathlib import Path

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
