"""The house World (worlds/house) and its Minds (house-random, house-greedy, house-cautious).

Every run here is real: the World and the Minds are Program 1 processes started by
the gateway core through ``wwm.client`` (local server folders, no HTTP).

Run as a script to measure every Mind, and two-Mind societies arbitrated here from
the Minds' ``w:`` / ``q ACTION:`` notes, over several seeds (the table in docs/house.md)::

    python3 tests/test_house.py --seeds 5 --steps 500
"""
from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from wwm.client import connect, run_episode  # noqa: E402

WORLD = str(ROOT / "worlds" / "house")
MINDS = {name: str(ROOT / "minds" / f"house-{name}") for name in ("random", "greedy", "cautious")}
ACTIONS = ("N", "S", "E", "W", "stay")
FLOAT = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
NOTES = re.compile(r"(N|S|E|W|stay)\nw: (%s)\n" % FLOAT
                   + "".join(r"q %s: (%s)\n" % (a, FLOAT) for a in ACTIONS) + r"\Z")


# ----------------------------------------------------------------- helpers
def play(mind: str, seed: int, steps: int, runs: str, transcript=None) -> dict:
    """One episode of the house World with one Mind (real processes)."""
    return run_episode(connect(WORLD, runs=runs), [connect(MINDS[mind], runs=runs)],
                       steps=steps, seed=seed, transcript=transcript)


def score_fields(detail: str) -> dict[str, str]:
    """The ``key: value`` lines of a score (its first line is the number)."""
    lines = detail.splitlines()[1:]
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


def state_fields(state: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, sep, v in (line.partition(":") for line in state.splitlines()) if sep}


def read_notes(text: str) -> tuple[str, float, dict[str, float]]:
    """``(action, w, {action: q})`` from a Mind's answer in the documented format."""
    m = NOTES.match(text)
    assert m, f"not an action with w and q lines: {text!r}"
    return m.group(1), float(m.group(2)), {a: float(m.group(3 + i)) for i, a in enumerate(ACTIONS)}


def highest_w(notes):
    """W-learning style: the Mind that cares most acts."""
    return max(notes, key=lambda n: n[1])[0]


def collective(notes):
    """Maximize Collective Happiness: argmax_a sum_i Q_i(a)."""
    return max(ACTIONS, key=lambda a: sum(q[a] for _, _, q in notes))


def least_unhappy(notes):
    """Minimize the Worst Unhappiness: argmin_a max_i [Q_i(a_i) - Q_i(a)]."""
    return min(ACTIONS, key=lambda a: max(max(q.values()) - q[a] for _, _, q in notes))


RULES = {"highest-w": highest_w, "collective": collective, "least-unhappy": least_unhappy}


def play_society(rule, seed: int, steps: int, runs: str) -> dict:
    """greedy + cautious as one Mind, arbitrated by ``rule`` from their notes (real processes)."""
    world = connect(WORLD, runs=runs)
    members = [connect(MINDS[n], runs=runs) for n in ("greedy", "cautious")]
    wrun = world.start_run(seed)
    mruns = [m.start_run(seed) for m in members]
    try:
        state, n, done = wrun.get_state(), 0, False
        while n < steps and not done:
            notes = [read_notes(r.get_action(state)) for r in mruns]
            result = wrun.execute_action(rule(notes) + "\n")
            state, done, n = result.state, result.done, n + 1
        detail = wrun.get_score()
    finally:
        for r in mruns + [wrun]:
            r.end()
    return {"steps": n, "score": float(detail.split()[0]), "score_detail": detail, "done": done}


@pytest.fixture
def runs(tmp_path):
    return str(tmp_path / "runs")


# ----------------------------------------------------------------- the World
def test_first_state_is_map_and_fields(runs):
    run = connect(WORLD, runs=runs).start_run(7)
    try:
        state = run.get_state()
        rows = [line for line in state.splitlines() if ":" not in line]
        assert len(rows) == 10 and all(len(r) == 20 for r in rows)
        assert rows[0] == "#" * 20 and sum(r.count("R") for r in rows) == 1
        assert sum(r.count("c") for r in rows) == 1 and sum(r.count("*") for r in rows) == 6
        f = state_fields(state)
        assert "reward" not in f  # no reward on the first state
        assert f["battery"] == f["capacity"] == "100" and f["robot"] == f["charger"]
        assert f["step"] == "0" and f["cleaned"] == "0" and f["event"] == "start"
        assert f["actions"].split() == list(ACTIONS)
        x, y = map(int, f["cat"].split(","))
        assert rows[y][x] == "c"
    finally:
        run.end()


def test_deterministic_under_seed(runs, tmp_path):
    """Same seed, same Mind: the same transcript, byte for byte; another seed differs."""
    def transcript(mind, seed, steps):
        path = tmp_path / "t.jsonl"
        with open(path, "w") as f:
            res = play(mind, seed, steps, runs, transcript=f)
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        if lines and lines[-1]["done"]:
            # The World writes done before its last state (docs/protocol.md), and the gateway
            # may answer as soon as it sees done, with the previous state: compare the
            # last step by its score only (the score is written first, so always current).
            lines[-1].pop("state")
        return res, lines

    (a, ta), (b, tb), (c, tc) = (transcript("greedy", s, 150) for s in (3, 3, 4))
    assert a["done"] and ta == tb and a["score_detail"] == b["score_detail"] and a["steps"] == b["steps"]
    assert ta != tc
    (a, ta), (b, tb) = (transcript("random", 9, 60) for _ in range(2))
    assert ta == tb and a["score_detail"] == b["score_detail"]


@pytest.mark.parametrize("action", ["jump", "N E", "north", "", "   ", "<action>N</action>",
                                    "w: 1\nq N: 2", "\u00e9t\u00e9", "x" * 2000, "12"])
def test_bad_action_penalised_state_stays_valid(runs, action):
    """Anything but N, S, E, W or stay: reward -1, robot stays, the run goes on."""
    run = connect(WORLD, runs=runs).start_run(5)
    try:
        before = state_fields(run.get_state())
        if not action.strip():
            # an empty action may be refused by the gateway itself; the World must not see it
            try:
                result = run.execute_action(action)
            except Exception:
                return
        else:
            result = run.execute_action(action)
        after = state_fields(result.state)
        assert after["reward"] == "-1" and after["event"] == "invalid action"
        assert after["robot"] == before["robot"] and result.done is False
        assert after["step"] == "1"
        assert score_fields(result.score)["invalid_actions"] == "1"
        assert result.score.splitlines()[0] == "-1"
        # and the World still plays: a good action after the bad one
        again = run.execute_action("S")
        assert state_fields(again.state)["step"] == "2"
    finally:
        run.end()


def test_actions_rewards_and_notes_lines_ignored(runs):
    """Case is free, notes after the action are ignored, walls cost -1."""
    run = connect(WORLD, runs=runs).start_run(1)
    try:
        state = run.get_state()
        f = state_fields(state)
        x, y = map(int, f["robot"].split(","))
        assert (x, y) == (5, 3)
        r = run.execute_action("stay\nw: 3.5\nq N: 1\n")  # on the charger: battery stays full
        g = state_fields(r.state)
        assert g["robot"] == "5,3" and g["battery"] == "100" and g["event"] in ("charging", "stayed")
        for _ in range(3):
            r = run.execute_action("n")  # up to row 1, then into the wall
        g = state_fields(r.state)
        assert g["robot"] == "5,1" and g["reward"] == "-1" and g["event"] == "bumped a wall"
        assert score_fields(r.score)["wall_bumps"] == "1"
        assert g["battery"] == "97"
    finally:
        run.end()


def test_battery_flat_ends_run(runs):
    """A Mind that never recharges runs the battery flat: done, -10, steps stop."""
    res = play("greedy", 2, 400, runs)
    f = score_fields(res["score_detail"])
    assert res["done"] is True and f["flat"] == "yes" and f["battery"] == "0"
    assert 100 <= res["steps"] < 400 and int(f["steps"]) == res["steps"]
    # score = cleaned - 10 (flat) - 1 per wall - 5 per cat - 1 per invalid action
    expect = int(f["cleaned"]) - 10 - int(f["wall_bumps"]) - 5 * int(f["cat_bumps"]) - int(f["invalid_actions"])
    assert res["score"] == expect


# ----------------------------------------------------------------- the Minds
def test_greedy_beats_random_clearly(runs):
    seeds = (1, 2, 3, 4, 5)
    greedy = [play("greedy", s, 300, runs)["score"] for s in seeds]
    rand = [play("random", s, 300, runs)["score"] for s in seeds]
    assert sum(greedy) / len(seeds) >= sum(rand) / len(seeds) + 15, (greedy, rand)
    assert all(g > r for g, r in zip(greedy, rand)), (greedy, rand)


def test_cautious_never_runs_flat(runs):
    res = play("cautious", 3, 300, runs)
    assert res["done"] is False and res["steps"] == 300
    assert score_fields(res["score_detail"])["flat"] == "no" and res["score"] >= 0


@pytest.mark.parametrize("mind", ["greedy", "cautious"])
def test_notes_format(runs, mind):
    """Action line, ``w: FLOAT``, then ``q ACTION: FLOAT`` for every action; the action is the argmax."""
    world = connect(WORLD, runs=runs)
    wrun, mrun = world.start_run(11), connect(MINDS[mind], runs=runs).start_run(11)
    try:
        state = wrun.get_state()
        for _ in range(40):
            action, w, q = read_notes(mrun.get_action(state))
            assert w >= 0 and q[action] == max(q.values())
            state = wrun.execute_action(action).state
    finally:
        mrun.end()
        wrun.end()


def test_random_mind_is_plain(runs):
    wrun, run = connect(WORLD, runs=runs).start_run(1), connect(MINDS["random"], runs=runs).start_run(1)
    try:
        state = wrun.get_state()
        for _ in range(10):
            action = run.get_action(state)
            assert action.endswith("\n") and action.strip() in ACTIONS
    finally:
        run.end()
        wrun.end()


def test_society_beats_each_member(runs):
    """greedy + cautious, combined from their notes, beat greedy alone and cautious alone."""
    for seed in (1, 2):
        alone = {m: play(m, seed, 300, runs)["score"] for m in ("greedy", "cautious")}
        for name in ("highest-w", "collective"):
            res = play_society(RULES[name], seed, 300, runs)
            assert res["done"] is False, (name, seed, res)
            assert res["score"] > max(alone.values()) + 20, (name, seed, res, alone)


# ----------------------------------------------------------------- measuring (script)
def measure(seeds: int, steps: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="wwm-house-") as tmp:
        plays = [(m, lambda s, m=m: play(m, s, steps, tmp)) for m in MINDS]
        plays += [(f"greedy+cautious ({r})", lambda s, r=r: play_society(RULES[r], s, steps, tmp)) for r in RULES]
        for name, fn in plays:
            results = [fn(s) for s in range(1, seeds + 1)]
            scores = [r["score"] for r in results]
            rows.append({"mind": name, "scores": scores, "mean": round(sum(scores) / len(scores), 2),
                         "steps": [r["steps"] for r in results],
                         "cleaned": [int(score_fields(r["score_detail"])["cleaned"]) for r in results]})
    return rows


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Measure the house Minds over seeds 1..N.")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    for row in measure(args.seeds, args.steps):
        print(json.dumps(row))
