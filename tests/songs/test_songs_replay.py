"""The replay World over an interaction log (leave-one-out by time), and ML-100k."""
from __future__ import annotations

import pytest

from wwm.songs.baselines import ItemKNNRec, PopularityRec, RandomRec
from wwm.songs.metrics import evaluate, hit_at_k, ndcg_at_k
from wwm.songs.mindkit import RecommenderMind
from wwm.songs.replay import InteractionLog, ReplayWorld
from wwm.songs.request import parse_state

ROWS = [("u1", "a", 3), ("u1", "b", 1), ("u1", "c", 2), ("u1", "d", 2),
        ("u2", "c", 5), ("u2", "a", 9), ("u3", "z", 1)]


def test_leave_one_out_by_time():
    log = InteractionLog.from_rows(ROWS, name="tiny")
    assert log.sequences["u1"] == ["b", "c", "d", "a"]      # ties keep the log's order
    train, test = log.split()
    assert train == {"u1": ["b", "c", "d"], "u2": ["c"]} and test == {"u1": "a", "u2": "a"}
    assert "u3" not in train                                 # one interaction: nothing to hold out


def test_metrics():
    assert hit_at_k(["x", "y"], "y") == 1 and hit_at_k(["x"] * 10 + ["y"], "y") == 0
    assert ndcg_at_k(["y"], "y") == 1 and abs(ndcg_at_k(["x", "x", "y"], "y") - 0.5) < 1e-12
    assert evaluate([["a"], ["b", "a"]], ["a", "c"]) == {"n": 2, "hr@10": 0.5, "ndcg@10": 0.5}


def test_replay_rewards_and_penalties():
    log = InteractionLog.from_rows(ROWS, name="tiny")
    w = ReplayWorld(log, "test", shuffle=False)
    s = parse_state(w.reset(1))
    assert s.world == "replay tiny" and s.listener == "u1" and s.recent == ["b", "c", "d"]
    s2, r, done = w.step("z c a")                             # held-out "a" at rank 3
    assert r == 0.5 and not done
    nxt = parse_state(s2)
    assert nxt.listened is None and nxt.accepted is None and nxt.listener == "u2"  # read-only
    assert nxt.mode == "test"
    s3, r, done = w.step("a a nope")                          # hit at 1, two bad entries
    assert r == pytest.approx(1 - 0.2) and done
    assert "the run is over" in s3
    w.reset(1)
    assert w.step("")[1] == -1 and w.step("\n".join("abcdefghijk"))[1] == -1


def test_train_mode_is_time_ordered():
    log = InteractionLog.from_rows(ROWS, name="tiny")
    w = ReplayWorld(log, "train")
    w.reset(1)
    assert [(u, pos) for u, pos in w.queue] == [("u1", 1), ("u1", 2)]   # times 2, 2 (then "a" is test)


def test_ml100k_slice(ml100k_dir):
    from wwm.songs.replay import load_ml100k
    log = load_ml100k(ml100k_dir, limit_users=40)
    assert len(log.sequences) == 40
    w = ReplayWorld(log, "test", steps=5)
    s = parse_state(w.reset(1))
    assert s.world == "replay ml-100k" and len(s.recent) >= 10


def _evaluate(world, rec, learn=False):
    mind = RecommenderMind(factory=lambda d: rec)
    if not learn:
        rec.observe = lambda *a: None
    s, r, done = world.reset(1), None, False
    while not done:
        s, r, done = world.step(mind.act_text(s, r))
    return world.summary()


def test_ml100k_baselines_reproduce_the_reference_figures(ml100k_log, ml100k_domain):
    """Popularity and item-kNN (last item) on the full ML-100k protocol, through the World."""
    train, _ = ml100k_log.split()
    pop = _evaluate(ReplayWorld(ml100k_log, "test"), PopularityRec(ml100k_domain).fit(train))
    assert pop["steps"] == 943 and abs(pop["hr@10"] - 0.086) < 0.003
    knn = _evaluate(ReplayWorld(ml100k_log, "test"),
                    ItemKNNRec(ml100k_domain, content_weight=0.0).fit(train))
    assert abs(knn["hr@10"] - 0.155) < 0.005
    rnd = _evaluate(ReplayWorld(ml100k_log, "test", steps=300), RandomRec(ml100k_domain))
    assert rnd["hr@10"] < 0.04
