"""WWMEnv over the repository's Worlds (local folders, through the gateway core):
Gymnasium's own checker, the protocol's reward and done, and Worlds that break their spaces."""
import shutil
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from wwm.gym import SpaceError, WWMEnv
from wwmtest import REPO

HELLO = ["hello-python", "hello-sh", "hello-c", "hello-perl", "hello-js"]


@pytest.fixture(autouse=True)
def local_runs(runs_dir, monkeypatch):
    """Local runs go to runs_dir, which must hold no live Program 1 after the test (EndRun on close)."""
    monkeypatch.setenv("WWM_RUNS", str(runs_dir))


def checked(env):
    """check_env with its warnings as failures (a warning means a broken contract here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)


@pytest.mark.parametrize("name", ["house"] + HELLO)
def test_check_env_on_repository_worlds(name):
    env = WWMEnv(str(REPO / "worlds" / name))
    try:
        checked(env)
    finally:
        env.close()


def test_hello_steps_carry_the_protocols_reward():
    env = WWMEnv(str(REPO / "worlds" / "hello-python"), max_steps=12)
    obs, info = env.reset(seed=5)
    assert (obs["low"], obs["high"]) == (1, 100) and info["state"] == "low: 1\nhigh: 100\n"
    total, steps, truncated = 0.0, 0, False
    while not truncated:          # binary search: the hello game never ends by itself
        obs, reward, terminated, truncated, info = env.step(np.int64((obs["low"] + obs["high"]) // 2))
        assert not terminated
        total, steps = total + reward, steps + 1
    assert steps == 12 and total >= 1
    assert info["score"].splitlines()[0] == str(int(total))    # the World's score: secrets found
    env.close()


def test_house_terminates_when_the_battery_runs_flat():
    env = WWMEnv(str(REPO / "worlds" / "house"), render_mode="ansi")
    obs, _ = env.reset(seed=1)
    assert obs["robot"].tolist() == obs["charger"].tolist() and obs["battery"] == 100
    west = 3                      # W: bump into walls and burn the battery away from the charger
    for step in range(1, 200):
        obs, reward, terminated, truncated, _ = env.step(west if step > 1 else 2)
        if terminated:
            break
    assert terminated and not truncated and obs["battery"] == 0 and reward <= -10
    assert "battery: 0" in env.render()
    env.close()


def test_text_spaces_when_none_are_declared():
    env = WWMEnv(str(REPO / "worlds" / "hello-python"), spaces={})
    obs, _ = env.reset(seed=1)
    assert obs == "low: 1\nhigh: 100\n" and env.observation_space.contains(obs)
    obs, reward, *_ = env.step("not a number")
    assert reward == -1 and obs == "low: 1\nhigh: 100\n"
    checked(env)
    env.close()


def test_seeded_reset_repeats_and_unseeded_reset_follows_the_seed():
    env = WWMEnv(str(REPO / "worlds" / "house"))
    first = [env.reset(seed=9)[0]["cat"].tolist(), env.reset()[0]["cat"].tolist(), env.reset()[0]["cat"].tolist()]
    again = [env.reset(seed=9)[0]["cat"].tolist(), env.reset()[0]["cat"].tolist(), env.reset()[0]["cat"].tolist()]
    assert first == again
    env.close()


def test_world_answering_outside_its_space_is_named(tmp_path):
    world = tmp_path / "worlds" / "narrow"
    shutil.copytree(REPO / "worlds" / "hello-python", world)
    manifest = (world / "wwm.toml").read_text().replace('name = "hello-python"', 'name = "narrow"')
    # declares high below 100: the first state (high: 100) is outside it
    (world / "wwm.toml").write_text(manifest.replace(
        'high = { type = "Discrete", n = 100, start = 1 }', 'high = { type = "Discrete", n = 50, start = 1 }'))
    env = WWMEnv(str(world))
    with pytest.raises(SpaceError) as err:
        env.reset(seed=1)
    assert "narrow" in str(err.value) and "high: '100' is not in the space Discrete(50, start=1)" in str(err.value)
    env.close()


def test_action_outside_the_action_space_is_refused_before_sending():
    env = WWMEnv(str(REPO / "worlds" / "hello-python"))
    env.reset(seed=1)
    with pytest.raises(SpaceError, match=r"action 0 is not in the action space Discrete\(100, start=1\)"):
        env.step(0)
    with pytest.raises(SpaceError, match="action '50'"):
        env.step("50")
    env.close()


def test_a_mind_is_not_an_env():
    with pytest.raises(ValueError, match="is not a World"):
        WWMEnv(str(REPO / "minds" / "hello-python"))
