"""Gymnasium environments served as Worlds by the stock gateway (``wwm serve`` on 127.0.0.1):
made by ``wwm new world NAME --gymnasium ENV_ID``, played by a Mind in sh, stepped by WWMEnv
(one and vectorised) exactly like the local environment, and a short PPO smoke-train."""
import json
import shutil
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from gymkit import Served, make_gym_root, wwm
from wwm.client import connect
from wwm.protocol.errors import GatewayError
from wwm.gym import WWMEnv, make_vec
from wwmtest import REPO

# A Mind in POSIX sh: push towards the side the pole is falling to (angle + half its velocity).
BALANCE_SH = r"""
. "${WWM_SERVER_DIR:-${0%/*}}/wwm.sh"
act() {
    printf '%s\n' "$1" | awk '!/^reward:/ && NF == 4 { print ($3 + 0.5 * $4 > 0) ? 1 : 0; exit }'
}
wwm_serve_mind act
"""


def balance(obs) -> int:
    """The sh Mind's rule, for the local environment."""
    return int(float(obs[2]) + 0.5 * float(obs[3]) > 0)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("gymroot")
    root = make_gym_root(base / "root", {"cartpole": "CartPole-v1", "frozenlake": "FrozenLake-v1",
                                         "pendulum": "Pendulum-v1", "strict": "CartPole-v1"})
    strict = root / "worlds" / "strict" / "world.py"
    strict.write_text(strict.read_text().replace('invalid="penalty"', 'invalid="error"'))
    out = wwm("new", "mind", "balance", "--lang", "sh", "--root", str(root))
    assert out.returncode == 0, out.stderr
    (root / "minds" / "balance" / "mind.sh").write_text(BALANCE_SH)
    shutil.copytree(REPO / "minds" / "hello-sh", root / "minds" / "hello-sh", symlinks=False)
    (base / "runs").mkdir()
    server = Served(root, base / "runs")
    yield server, root
    server.stop()


def test_new_world_declares_the_environments_spaces(served):
    _, root = served
    text = (root / "worlds" / "cartpole" / "wwm.toml").read_text()
    assert 'action = { type = "Discrete", n = 2 }' in text
    assert 'low = [-4.8, -inf, -0.41887903, -inf]' in text
    out = wwm("new", "world", "nope", "--gymnasium", "NoSuchEnv-v0", "--root", str(root))
    assert out.returncode != 0 and "NoSuchEnv" in out.stderr and not (root / "worlds" / "nope").exists()
    out = wwm("new", "mind", "m", "--gymnasium", "CartPole-v1", "--root", str(root))
    assert out.returncode != 0 and "makes a World" in out.stderr


@pytest.mark.parametrize("name, env_id", [("cartpole", "CartPole-v1"), ("frozenlake", "FrozenLake-v1"),
                                           ("pendulum", "Pendulum-v1")])
def test_check_env_through_the_gateway(served, name, env_id):
    server, root = served
    env = WWMEnv(server.url(name))  # the spaces come from Describe
    local = gym.make(env_id)
    assert (env.observation_space, env.action_space) == (local.observation_space, local.action_space)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # warnings about the environments' own spaces (CartPole's infinite bounds, Pendulum's [-2, 2] action)
        warnings.filterwarnings("ignore", "(?s).*Box observation space m[a-z]+ value is -?infinity")
        warnings.filterwarnings("ignore", "(?s).*we recommend using a symmetric and normalized space")
        check_env(env, skip_render_check=True)
    env.close()


def test_sh_mind_plays_it_like_the_local_environment(served, tmp_path):
    server, _ = served
    out = wwm("run", server.url("cartpole"), server.base + "minds/balance", "--steps", "600", "--seed", "7",
              "--quiet", WWM_SCORES=str(tmp_path / "scores"))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    local = gym.make("CartPole-v1")
    obs, _ = local.reset(seed=7)
    total, done = 0.0, False
    while not done:
        obs, r, term, trunc, _ = local.step(balance(obs))
        total, done = total + r, term or trunc
    assert result["done"] and result["score"] == total and total > 20    # the same episode, step for step
    assert "invalid_actions: 0" in result["score_detail"]


def test_mind_outside_the_action_space_gets_the_penalty(served, tmp_path):
    server, _ = served
    # the hello Mind guesses 50: not in Discrete(2)
    out = wwm("run", server.url("cartpole"), server.base + "minds/hello-sh", "--steps", "5", "--quiet",
              WWM_SCORES=str(tmp_path / "scores"))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["score"] == -5 and "steps: 0\ninvalid_actions: 5" in result["score_detail"]


def test_strict_world_ends_only_that_run_with_the_reason(served):
    server, _ = served
    world = connect(server.url("strict"))
    good, bad = world.start_run(1), world.start_run(2)
    good.get_state(), bad.get_state()
    with pytest.raises(GatewayError) as err:
        bad.execute_action("left")
    assert err.value.code == 502 and "'left' is not in the space Discrete(2)" in str(err.value)
    assert good.execute_action("1").state.startswith("reward: 1\n")     # the other run goes on
    good.end()
    world.close()


def test_vector_over_remote_runs_matches_local_copies(served):
    server, root = served
    n, seed = 3, 11
    remote = make_vec(server.url("cartpole"), n, mode="async")
    local = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1") for _ in range(n)])
    assert remote.single_observation_space == local.single_observation_space
    ro, _ = remote.reset(seed=seed)
    lo, _ = local.reset(seed=seed)
    assert np.array_equal(ro, lo)
    rng = np.random.default_rng(0)
    # Step for step equal until each copy's first episode ends; after that an
    # unseeded reset starts a new run from a seed drawn by WWMEnv, while a local
    # CartPole continues its own generator, so only the ranges must agree.
    same = np.ones(n, bool)
    for _ in range(150):
        a = rng.integers(0, 2, n)
        ro, rr, rt, rtr, _ = remote.step(a)
        lo, lr, lt, ltr, _ = local.step(a)
        assert np.array_equal(ro[same], lo[same]) and np.array_equal(rr[same], lr[same])
        assert np.array_equal(rt[same], lt[same]) and np.array_equal(rtr[same], ltr[same])
        assert all(remote.single_observation_space.contains(o) for o in ro)
        same &= ~(lt | ltr)
    assert not same.all()         # at least one copy went through an episode end and an autoreset
    remote.close()
    local.close()


def test_ppo_smoke_trains_through_http(served):
    from stable_baselines3 import PPO

    server, root = served
    env = WWMEnv(server.url("cartpole"))
    model = PPO("MlpPolicy", env, n_steps=128, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    env.close()
