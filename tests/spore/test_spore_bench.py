"""The SPORE benches' own parts: the central reference learns from exactly the FedAvg nodes'
examples, the ML-100k taste split separates tastes, and node memory is read from /proc."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import spore  # noqa: E402
import spore_memory  # noqa: E402
import spore_ml100k  # noqa: E402


def _args(**kw):
    base = dict(nodes=2, rounds=2, steps=12, validation=10, dim=8, hidden=16, threshold=0.005, hysteresis=0.01,
                cooldown=2, capacity=8, seed=1)
    return argparse.Namespace(**dict(base, **kw))


def test_central_learns_from_the_fedavg_nodes_pooled_examples():
    from wwm.songs.catalog import load_catalog

    catalog, args = load_catalog(), _args()
    communities = ["metal", "club"]
    fed = spore.run("fedavg", spore.song_nodes(catalog, communities, args), args)
    assert [node.samples for node in fed["nodes"]] == [args.rounds * args.steps] * 2
    ref = spore.central(fed, catalog, communities, args)
    assert ref["examples"] == sum(node.samples for node in fed["nodes"]) == 48
    assert len(ref["curves"]) == 2 and all(len(c) == args.rounds + 1 for c in ref["curves"])
    # it trained: its model differs from the untrained start, so its scores moved
    assert ref["curves"][0][0] != ref["curves"][0][-1] or ref["curves"][1][0] != ref["curves"][1][-1]
    assert spore.jsonable(fed["nodes"][0]) is None  # the nodes stay out of the JSON report


class _Dom:
    # six items: 1-3 only genre A, 4-6 only genre B; the last column is the year
    features = np.array([[1, 0, 0.0]] * 3 + [[0, 1, 0.0]] * 3)


def test_taste_split_separates_tastes_and_iid_split_covers_everyone():
    train = [[1, 2, 3], [4, 5, 6], [1, 2], [5, 6], [1, 3, 4], [4, 6, 2]]  # rows are 1-based
    taste = spore_ml100k.split_users("taste", 2, _Dom, train, seed=1)
    assert sorted(map(sorted, map(list, taste))) == [[0, 2, 4], [1, 3, 5]]  # genre A fans, genre B fans
    iid = spore_ml100k.split_users("iid", 3, _Dom, train, seed=1)
    assert sorted(int(u) for part in iid for u in part) == list(range(6)) and [len(p) for p in iid] == [2, 2, 2]


def test_memory_is_read_over_the_process_tree():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        for _ in range(100):  # until the child is there
            mem = spore_memory.memory_kib(os.getpid())
            if mem["processes"] >= 2:
                break
            subprocess.run(["sleep", "0.1"])
        assert mem["processes"] >= 2
        assert 0 < mem["Private"] <= mem["Pss"] <= mem["VmRSS"] <= mem["VmHWM"]
    finally:
        child.kill()
        child.wait()
