"""The migration rule: threshold, hysteresis, cooldown, capacity, and the figures it records."""
from __future__ import annotations

from wwm.spore.migration import Candidate, MigrationPolicy, decide

P = MigrationPolicy(threshold=0.01, hysteresis=0.02, cooldown=2, memory=10, capacity=3)


def _decide(candidates, current="g0", score=0.40, round_no=10, last_move=None, left=None):
    return decide(P, current=current, current_score=score, candidates=candidates, round_no=round_no,
                  last_move=last_move, left=left or {})


def test_moves_to_the_best_gain_above_threshold():
    d = _decide([Candidate("g1", 0.405), Candidate("g2", 0.45), Candidate("g3", 0.43)])
    assert d["action"] == "move" and d["to"] == "g2" and abs(d["gain"] - 0.05) < 1e-9
    assert [c["group"] for c in d["candidates"]] == ["g1", "g2", "g3"]  # every figure kept


def test_stays_below_threshold_and_says_why():
    d = _decide([Candidate("g1", 0.405)])
    assert d["action"] == "stay" and "threshold" in d["reason"]


def test_hysteresis_against_returning_to_a_group_just_left():
    left = {"g1": 8}
    assert _decide([Candidate("g1", 0.425)], left=left)["action"] == "stay"    # 0.025 < 0.01 + 0.02
    assert _decide([Candidate("g1", 0.435)], left=left)["action"] == "move"    # 0.035 > 0.03
    assert _decide([Candidate("g1", 0.425)], left={"g1": -5})["action"] == "move"  # long ago: forgotten


def test_cooldown_after_a_move():
    d = _decide([Candidate("g1", 0.9)], last_move=9)
    assert d["action"] == "stay" and "cooldown" in d["reason"]
    assert _decide([Candidate("g1", 0.9)], last_move=8)["action"] == "move"


def test_full_groups_are_not_candidates():
    d = _decide([Candidate("g1", 0.9, members=3), Candidate("g2", 0.45, members=2)])
    assert d["to"] == "g2"
    assert _decide([Candidate("g1", 0.9, members=3)])["action"] == "stay"


def test_own_group_is_not_a_candidate():
    assert _decide([Candidate("g0", 0.9)])["action"] == "stay"
