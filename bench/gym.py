#!/usr/bin/env python3
"""Gymnasium benchmark: CartPole-v1 local, served as a WWM World by ``wwm serve``, and by
the CGI gateway under lighttpd, side by side in one run.

Throughput
    Steps per second through ``gymnasium.make`` (local), ``WWMEnv`` over the
    World's folder (the gateway core in-process, files to Program 1), over
    ``wwm serve`` (HTTP on 127.0.0.1) and over ``cgi-bin/wwm.py`` under
    lighttpd (one CGI process per query), for a random policy (episodes of
    about 22 steps: every episode is a new run, a new Program 1) and for a
    balancing rule (episodes of hundreds of steps: the cost of a step).

Learning
    Stable-Baselines3 PPO (MlpPolicy, default hyper-parameters except
    ``n_steps``, seed 0, one torch thread) trained for the same number of
    steps on the local environment and on the served World; then each policy
    plays 20 episodes (deterministic actions, seeds 1000..1019) on the local
    environment. Reported: the mean evaluation return, the mean return of
    the last training episodes, and training steps/s. CGI trains for a smaller
    budget (``--cgi-steps``) with a local run of the same budget beside it.

openai/gym-http-api (optional)
    Its ``gym_http_server.py`` as shipped (Flask's own server, one ``gym``
    environment per instance, JSON) with ``--gym-http-api FILE --gym-http-python PY``:
    the server needs the old ``gym`` API, e.g. a venv with
    ``pip install "gym==0.25.2" "numpy<2" flask six``. Stepped through a small
    ``gymnasium.Env`` adapter over ``requests``, like its own Python client;
    throughput and PPO at the main budget, side by side with the others.

Vector scaling
    ``gymnasium.vector.AsyncVectorEnv`` over N runs of the served World
    (``wwm.gym.make_vec``), N = 1, 2, 4: total steps per second.

The World is made as a user makes it: ``wwm new world cartpole --gymnasium CartPole-v1``.
Prints a table, then one JSON line.

    python bench/gym.py [--steps 20000] [--cgi-steps 2048] [--quick]
                        [--gym-http-api gym_http_server.py --gym-http-python VENV/bin/python]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# this file is named gym.py: keep bench/ off the path so that `import gym` (tried by some libraries) is not it
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "gym"), str(REPO / "tests" / "gateway")]

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import gwkit  # noqa: E402
from gymkit import Served, free_port, make_gym_root  # noqa: E402
from wwm.gym import WWMEnv, make_vec  # noqa: E402

ENV_ID = "CartPole-v1"
EVAL_SEEDS = range(1000, 1020)


def start_cgi(base: Path, root: Path) -> tuple[object, str]:
    """lighttpd with the stock CGI gateway; this interpreter runs it (the World needs numpy)."""
    files, runs = base / "lighttpd", base / "cgi-runs"
    files.mkdir()
    runs.mkdir()
    port = free_port()
    conf = gwkit.LIGHTTPD_CONF.replace('"/usr/bin/python3"', json.dumps(sys.executable))
    (files / "htdocs").mkdir()
    cgi_bin = gwkit.install_cgi(files / "cgi-bin").parent
    (files / "lighttpd.conf").write_text(conf.format(htdocs=files / "htdocs", port=port, files=files,
                                                     cgi_bin=cgi_bin, root=root, runs=runs, repo=REPO))
    lighttpd = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
    proc = subprocess.Popen([lighttpd, "-D", "-f", str(files / "lighttpd.conf")], stdin=subprocess.DEVNULL,
                            stdout=open(files / "stdout.log", "ab"), stderr=subprocess.STDOUT)
    gwkit.wait_ready(proc, port, gwkit.CGI_PREFIX, files / "error.log")
    return proc, f"http://127.0.0.1:{port}{gwkit.CGI_PREFIX}worlds/"


class GymHttpApiEnv(gym.Env):
    """CartPole through openai/gym-http-api: POST /v1/envs/, …/reset/, …/step/."""

    def __init__(self, base: str):
        import requests

        self.base, self.http, self.instance = base, requests.Session(), None
        local = gym.make(ENV_ID)
        self.observation_space, self.action_space = local.observation_space, local.action_space

    def _post(self, path: str, body: dict) -> dict:
        reply = self.http.post(self.base + path, json=body, timeout=60)
        reply.raise_for_status()
        return reply.json() if reply.content else {}   # close answers 204

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if self.instance is None or seed is not None:   # its server seeds an instance when it makes it
            self.close()
            self.instance = self._post("/v1/envs/", {"env_id": ENV_ID, "seed": seed})["instance_id"]
        obs = self._post(f"/v1/envs/{self.instance}/reset/", {})["observation"]
        return np.array(obs, dtype=np.float32), {}

    def step(self, action):
        doc = self._post(f"/v1/envs/{self.instance}/step/", {"action": int(action)})
        truncated = bool(doc["info"].get("TimeLimit.truncated", False))
        return (np.array(doc["observation"], dtype=np.float32), float(doc["reward"]),
                bool(doc["done"]) and not truncated, truncated, {})

    def close(self):
        if self.instance is not None:
            self._post(f"/v1/envs/{self.instance}/close/", {})
            self.instance = None


def start_gym_http_api(server: str, python: str, base: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([python, server, "--port", str(port)], cwd=base, stdin=subprocess.DEVNULL,
                            stdout=open(base / "gym-http-api.log", "ab"), stderr=subprocess.STDOUT)
    gwkit.wait_ready(proc, port, "/v1/envs/", base / "gym-http-api.log")
    return proc, f"http://127.0.0.1:{port}"


def balance(obs: np.ndarray) -> np.ndarray:
    """Push towards the side the pole falls to: long episodes, so steps (not run starts) are timed."""
    return (obs[..., 2] + 0.5 * obs[..., 3] > 0).astype(np.int64)


def policy_steps(make, steps: int, policy: str, seed: int = 0) -> float:
    """Steps per second of the random or the balancing policy (resets included)."""
    env = make()
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        action = int(rng.integers(0, 2)) if policy == "random" else int(balance(obs))
        obs, _, term, trunc, _ = env.step(action)
        if term or trunc:
            obs, _ = env.reset()
    rate = steps / (time.perf_counter() - started)
    env.close()
    return rate


def evaluate(model) -> float:
    env = gym.make(ENV_ID)
    returns = []
    for seed in EVAL_SEEDS:
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, r, term, trunc, _ = env.step(int(action))
            total, done = total + r, term or trunc
        returns.append(total)
    return statistics.mean(returns)


def train(make, steps: int, n_steps: int) -> dict:
    from stable_baselines3 import PPO

    env = make()
    model = PPO("MlpPolicy", env, n_steps=n_steps, seed=0, device="cpu", verbose=0)
    started = time.perf_counter()
    model.learn(total_timesteps=steps)
    seconds = time.perf_counter() - started
    train_returns = [ep["r"] for ep in model.ep_info_buffer]
    env.close()
    return {"steps": int(model.num_timesteps), "steps_per_s": round(model.num_timesteps / seconds, 1),
            "eval_return": round(evaluate(model), 1),
            "train_return_last": round(statistics.mean(train_returns[-20:]), 1) if train_returns else None}


def main() -> None:
    os.environ.setdefault("WWM_ALLOW_ROOT", "1")  # throw-away gateways on 127.0.0.1, as root on a test box too
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20000, help="PPO budget, local and wwm serve")
    ap.add_argument("--cgi-steps", type=int, default=2048, help="PPO budget through CGI (and a local run beside it)")
    ap.add_argument("--random-steps", type=int, default=2000, help="throughput steps per transport (CGI: a tenth)")
    ap.add_argument("--quick", action="store_true", help="a short run: 4096 / 512 / 500 steps")
    ap.add_argument("--gym-http-api", metavar="FILE", help="openai/gym-http-api's gym_http_server.py")
    ap.add_argument("--gym-http-python", metavar="PY", default="python3", help="the interpreter for it (old gym)")
    args = ap.parse_args()
    if args.quick:
        args.steps, args.cgi_steps, args.random_steps = 4096, 512, 500
    import torch

    torch.set_num_threads(1)
    base = Path(tempfile.mkdtemp(prefix="wwm-gym-bench-"))
    root = make_gym_root(base / "root", {"cartpole": ENV_ID})
    folder = str(root / "worlds" / "cartpole")
    (base / "runs").mkdir()
    served = Served(root, base / "runs", threads=8)
    cgi_proc, cgi_base = start_cgi(base, root)
    transports = {
        "local": lambda: gym.make(ENV_ID),
        "folder": lambda: WWMEnv(folder),
        "serve": lambda: WWMEnv(served.url("cartpole"), spaces=folder),
        "cgi": lambda: WWMEnv(cgi_base + "cartpole", spaces=folder),
    }
    ghapi_proc = None
    if args.gym_http_api:
        ghapi_proc, ghapi_base = start_gym_http_api(os.path.abspath(args.gym_http_api), args.gym_http_python, base)
        transports["gym-http-api"] = lambda: GymHttpApiEnv(ghapi_base)
    report = {"scale": vars(args), "steps_per_s": {"random": {}, "balance": {}}, "ppo": {},
              "vector_steps_per_s": {}}
    try:
        for policy in ("random", "balance"):
            for name, make in transports.items():
                n = args.random_steps // 10 if name == "cgi" else args.random_steps
                report["steps_per_s"][policy][name] = round(policy_steps(make, n, policy), 1)
        n_steps = 512 if args.steps >= 4096 else 128
        report["ppo"][f"local@{args.steps}"] = train(transports["local"], args.steps, n_steps)
        report["ppo"][f"serve@{args.steps}"] = train(transports["serve"], args.steps, n_steps)
        if ghapi_proc:
            report["ppo"][f"gym-http-api@{args.steps}"] = train(transports["gym-http-api"], args.steps, n_steps)
        report["ppo"][f"local@{args.cgi_steps}"] = train(transports["local"], args.cgi_steps, 128)
        report["ppo"][f"cgi@{args.cgi_steps}"] = train(transports["cgi"], args.cgi_steps, 128)
        for n in (1, 2, 4):
            vec = make_vec(served.url("cartpole"), n, mode="async", spaces=folder)
            obs, _ = vec.reset(seed=0)
            rounds = max(50, args.random_steps // (2 * n))
            started = time.perf_counter()
            for _ in range(rounds):
                obs, *_ = vec.step(balance(obs))
            report["vector_steps_per_s"][n] = round(rounds * n / (time.perf_counter() - started), 1)
            vec.close()
    finally:
        served.stop()
        gwkit.stop_process(cgi_proc)
        if ghapi_proc:
            gwkit.stop_process(ghapi_proc)
        gwkit.kill_program1(base / "cgi-runs")
        shutil.rmtree(base, ignore_errors=True)
    for policy, rates in report["steps_per_s"].items():
        print(f"{policy + ' policy, steps/s:':<25}" + "  ".join(f"{k} {v}" for k, v in rates.items()))
    print(f"{'PPO run':<16}{'steps':>8}{'steps/s':>10}{'eval return':>13}{'train return':>14}")
    for k, v in report["ppo"].items():
        print(f"{k:<16}{v['steps']:>8}{v['steps_per_s']:>10}{v['eval_return']:>13}{v['train_return_last']!s:>14}")
    print("vector over wwm serve, steps/s:  " + "  ".join(f"N={k}: {v}" for k, v in
                                                          report["vector_steps_per_s"].items()))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
