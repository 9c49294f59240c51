"""The CartPole World and the balancing Mind, played locally through wwm.client
(real Program 1 processes behind the in-process gateway, as `wwm run` plays them)."""
import importlib.util
import random
from pathlib import Path

import pytest

import wwm

REPO = Path(__file__).resolve().parent.parent
WORLD, MIND = str(REPO / "worlds" / "cartpole"), str(REPO / "minds" / "cartpole-balance")


def load_world_module():
    spec = importlib.util.spec_from_file_location("cartpole_world", REPO / "worlds" / "cartpole" / "world.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the `__main__` guard keeps it from serving
    return module


def parse(state):
    """The four numbers of a state (its last line; a ``reward: R`` line may come first)."""
    values = [float(v) for v in state.rstrip("\n").split("\n")[-1].split()]
    assert len(values) == 4
    return values


def test_dynamics_match_gym_cartpole_v1():
    # Reference: gym 0.26.2 CartPole-v1 from state (0.01, 0.02, 0.03, 0.04), actions 1 0 0 1 1 1
    # (gym keeps its state in float32, hence the tolerance).
    world = load_world_module()
    s = (0.01, 0.02, 0.03, 0.04)
    for a in (1, 0, 0, 1, 1, 1):
        s = world.physics(s, a)
    assert s == pytest.approx((0.01617634855210781, 0.40757837891578674, 0.03172365948557854,
                               -0.48691418766975403), abs=1e-6)
    assert not world.fallen(s)
    assert world.fallen((2.5, 0, 0, 0)) and world.fallen((0, 0, -0.21, 0))


@pytest.fixture(scope="module")
def cartpole():
    with wwm.connect(WORLD) as server:
        yield server


def play_random(server, seed):
    """One episode with random actions; (steps, score, final state)."""
    rng = random.Random(seed)
    with server.start_run(seed=seed) as run:
        first = parse(run.get_state())
        assert all(abs(v) <= 0.05 for v in first)
        for n in range(1, 501):
            result = run.execute_action(rng.choice("01"))
            if result.done:
                return n, result.score, parse(result.state)
    raise AssertionError("a random episode did not end in 500 steps")


def test_random_episodes_end_when_the_pole_falls(cartpole):
    for seed in (1, 2, 3):
        steps, score, (x, _, theta, _) = play_random(cartpole, seed)
        assert steps < 500 and (abs(theta) > 12 * 2 * 3.14159 / 360 or abs(x) > 2.4)
        assert score.split("\n")[0] == str(steps) and f"steps: {steps}" in score  # reward 1 every step


def test_same_seed_same_start(cartpole):
    with cartpole.start_run(seed=7) as a, cartpole.start_run(seed=7) as b, cartpole.start_run(seed=8) as c:
        assert a.get_state() == b.get_state() != c.get_state()


def test_invalid_action_costs_one_and_changes_nothing(cartpole):
    with cartpole.start_run(seed=1) as run:
        before = run.get_state()
        for bad in ("2", "left", "", "1 1"):
            result = run.execute_action(bad)
            assert result.state == "reward: -1\n" + before and not result.done
        assert run.get_score().startswith("-4\n")


def test_balancing_mind_beats_random(cartpole):
    random_steps = [play_random(cartpole, seed)[0] for seed in (4, 5, 6)]
    result = wwm.run_episode(WORLD, [MIND], steps=1000, seed=4)
    assert result["done"] and result["steps"] == 500 and result["score"] == 500  # truncated at 500
    assert max(random_steps) < 200
