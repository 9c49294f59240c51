"""Each arbitration rule on cases computed by hand (wwm/society/rules.py)."""
from __future__ import annotations

import pytest

from wwm.society import rules
from wwm.society.rules import Ballot
from wwm.society.soml import Member, Spec
from wwm.society.society import Society


def test_collective_worst_unhappiness_and_vote_disagree():
    # a wants A (Q: A 10, B 0, C 6); b wants B (Q: A 0, B 8, C 3).
    a = Ballot("a", "A", q={"A": 10, "B": 0, "C": 6})
    b = Ballot("b", "B", q={"A": 0, "B": 8, "C": 3})
    # Collective: A = 10 + 0 = 10, B = 0 + 8 = 8, C = 6 + 3 = 9  -> A
    assert rules.collective([a, b]) == ("A", {"A": 10.0, "B": 8.0, "C": 9.0})
    # Worst unhappiness: A: max(10-10, 8-0) = 8; B: max(10-0, 8-8) = 10; C: max(10-6, 8-3) = 5 -> C
    assert rules.worst_unhappiness([a, b]) == ("C", {"A": 8.0, "B": 10.0, "C": 5.0})
    # Vote: one each -> the earliest proposed
    assert rules.vote([a, b]) == ("A", {"A": 1.0, "B": 1.0})


def test_collective_follows_the_strong_preference_vote_the_majority():
    a = Ballot("a", "L", q={"L": 3, "R": 0})
    b = Ballot("b", "R", q={"L": 1, "R": 2})
    c = Ballot("c", "R", q={"L": 1, "R": 2})
    assert rules.collective([a, b, c])[0] == "L"        # 5 against 4
    assert rules.vote([a, b, c])[0] == "R"              # 2 against 1
    # worst unhappiness: L: max(0, 1, 1) = 1; R: max(3, 0, 0) = 3 -> L
    assert rules.worst_unhappiness([a, b, c]) == ("L", {"L": 1.0, "R": 3.0})


def test_weights_scale_every_rule():
    ballots = [Ballot("a", "50"), Ballot("b", "37"), Ballot("c", "60", weight=3)]
    assert rules.vote(ballots) == ("60", {"50": 1.0, "37": 1.0, "60": 3.0})
    # implicit Q (1 for the own action, 0 otherwise): collective is the weighted vote
    assert rules.collective(ballots)[0] == "60"
    # worst unhappiness: 50: max(0, 1, 3) = 3; 37: 3; 60: max(1, 1, 0) = 1 -> 60
    assert rules.worst_unhappiness(ballots)[1] == {"50": 3.0, "37": 3.0, "60": 1.0}


def test_q_table_fills_in_what_a_member_did_not_say():
    # own action unreported: the max it reported; other unreported candidates: the min
    b = Ballot("m", "B", q={"A": 0.5, "C": 0.2})
    assert rules.q_table(b, ["A", "B", "C", "D"]) == {"A": 0.5, "B": 0.5, "C": 0.2, "D": 0.2}
    assert rules.q_table(Ballot("m", "B"), ["A", "B"]) == {"A": 0.0, "B": 1.0}
    # ranked, no Q: (n - p) / n
    r = Ballot("m", "", items=["x", "y", "z", "w"])
    assert rules.q_table(r, ["x", "y", "w", "v"], ranked=True) == {"x": 1.0, "y": 0.75, "w": 0.25, "v": 0.0}


def test_highest_w_reported_then_learned_then_order():
    ballots = [Ballot("a", "1", w=0.2), Ballot("b", "2"), Ballot("c", "3", weight=2, w=0.15)]
    assert rules.highest_w(ballots, {"b": 0.25}) == (2, [0.2, 0.25, 0.3])
    assert rules.highest_w(ballots, {"b": 0.31})[0] == 1
    # all equal: the earlier member
    assert rules.highest_w([Ballot("a", "1"), Ballot("b", "2")])[0] == 0


def test_w_update_by_hand():
    # W <- (1 - a) W + a (Q(x, a_i) - (r + g max Q(y)))
    assert rules.w_update(0.2, 1.0, 0.0, 0.5, alpha=0.1, gamma=0.9) == pytest.approx(0.9 * 0.2 + 0.1 * 0.55)
    assert rules.w_update(0.0, 0.3, 1.0, 0.0, alpha=1.0, gamma=0.9) == pytest.approx(-0.7)


def test_borda_by_hand():
    a = Ballot("a", "", items=["x", "y", "z"])
    b = Ballot("b", "", items=["y", "x"])
    c = Ballot("c", "", items=["z"])
    # L = 3: x = 3 + 2 = 5, y = 2 + 3 = 5, z = 1 + 3 = 4
    assert rules.borda([a, b, c]) == {"x": 5.0, "y": 5.0, "z": 4.0}
    # tie x/y: same Borda, same best rank (0) -> first mentioned
    assert rules.fuse_ranked([a, b, c], "borda")[0] == ["x", "y", "z"]
    b.weight = 2  # y = 2 + 6 = 8, x = 3 + 4 = 7
    assert rules.fuse_ranked([a, b, c], "borda") == (["y", "x", "z"], {"y": 8.0, "x": 7.0, "z": 4.0})
    assert rules.fuse_ranked([a, b, c], "borda", size=2)[0] == ["y", "x"]


def test_rrf_by_hand():
    a = Ballot("a", "", items=["x", "y"])
    b = Ballot("b", "", items=["y", "z"])
    items, scores = rules.fuse_ranked([a, b], "rrf", size=3)
    assert items == ["y", "x", "z"]
    assert scores["y"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["x"] == pytest.approx(1 / 61)
    assert scores["z"] == pytest.approx(1 / 62)
    assert rules.rrf([a, b], k=0) == {"x": 1.0, "y": 1.5, "z": 0.5}


def test_ranked_vote_collective_worst_and_w():
    a = Ballot("a", "", items=["x", "y"])
    b = Ballot("b", "", items=["y", "z"])
    c = Ballot("c", "", items=["y", "x"])
    # approval: y 3, x 2, z 1
    assert rules.fuse_ranked([a, b, c], "vote", size=3) == (["y", "x", "z"], {"y": 3.0, "x": 2.0, "z": 1.0})
    # implicit Q (n - p)/n: x = 1 + 0 + .5 = 1.5; y = .5 + 1 + 1 = 2.5; z = .5 -> y x z
    assert rules.fuse_ranked([a, b, c], "collective", size=3)[0] == ["y", "x", "z"]
    # with scores: a values x highly
    a2 = Ballot("a", "", items=["x", "y"], q={"x": 10, "y": 1})
    items, worst = rules.fuse_ranked([a2, b], "worst-unhappiness")
    # a2: Q x 10, y 1, z 1 (min); b: x 0, y 1, z .5 ; unhappiness: x max(0, 1) = 1; y max(9, 0) = 9; z max(9, .5) = 9
    assert items[0] == "x" and worst["x"] == -1.0
    # w-learning: the list of the member with the highest W, unchanged
    a.w, b.w = 0.1, 0.9
    assert rules.fuse_ranked([a, b], "w-learning")[0] == ["y", "z"]


def _offline_society(rule="w-learning", alpha=0.5, gamma=0.9):
    spec = Spec(name="t", rule=rule, members=[Member("http://127.0.0.1:9/a", "a"), Member("http://127.0.0.1:9/b", "b")],
                alpha=alpha, gamma=gamma)
    return Society(spec, log=lambda line: None)


def test_w_learning_bookkeeping_by_hand():
    s = _offline_society()
    try:
        # step x: a proposes L (Q_a(x, L) = 1.0), b proposes R (Q_b(x, R) = 0.8); R is obeyed.
        x = [Ballot("a", "L", q={"L": 1.0, "R": 0.2}), Ballot("b", "R", q={"R": 0.8, "L": 0.1})]
        s._remember("x", x, "R")
        # step y, reward 0: a now values max 0.4, b 0.6
        y = [Ballot("a", "L", q={"L": 0.4}), Ballot("b", "L", q={"L": 0.6})]
        s._learn("y", 0.0, y)
        # only a was not obeyed: W_a(x) = 0.5 * 0 + 0.5 * (1.0 - (0 + 0.9 * 0.4)) = 0.32
        assert s.W["a"] == {"x": pytest.approx(0.32)}
        assert s.W["b"] == {}
        assert s.W_mean["a"] == pytest.approx(0.32)
        # in state x again a's learned W (0.32) beats b's (0): a is obeyed
        assert rules.highest_w(x, s._learned("x"))[0] == 0
        # an unseen state uses the member's mean W
        assert s._learned("z") == {"a": pytest.approx(0.32), "b": 0.0}
        # no reward (a first state): nothing learned
        s._remember("x", x, "R")
        s._learn("x", None, y)
        assert s.W["a"]["x"] == pytest.approx(0.32)
    finally:
        s.close(wait=0.1)
