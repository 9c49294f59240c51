"""``WWMEnv``: any WWM World, local folder or remote URL, as a ``gymnasium.Env``.

    env = WWMEnv("http://127.0.0.1:8000/wwm/worlds/cartpole")
    obs, info = env.reset(seed=1)          # StartRun (seed) + GetState
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())   # ExecuteAction
    env.close()                            # EndRun

The reward is the one the state carries (docs/protocol.md, "Rewards ride in
the state"); ``terminated`` is the World's ``done``, ``truncated`` is the step
limit (``max_steps``) or a World whose score says ``truncated: yes`` (a
Gymnasium environment served as a World does, when its time limit ends the run).
"""
from __future__ import annotations

import json

import gymnasium as gym

from wwm.client.client import LocalTransport, Run, connect
from wwm.protocol.manifest import DEFAULT_LIMITS, load_server
from wwm.gym.mapping import Codec, SpaceError, codec, text_spec
from wwm.program import split_reward

__all__ = ["WWMEnv", "declared_spaces", "make_vec"]


def declared_spaces(server) -> dict:
    """The ``[spaces]`` table of a connected World: from Describe when the
    gateway reports it (a ``spaces`` field holding JSON), else from the manifest
    of a local folder; ``{}`` when the World declares none."""
    described = server.describe().get("spaces")
    if described:
        try:
            return dict(json.loads(described))
        except (TypeError, ValueError):
            raise SpaceError(f"{server.url}: Describe's spaces field is not a JSON table") from None
    if isinstance(server.transport, LocalTransport):
        return dict(server.transport.server.manifest.get("spaces") or {})
    return {}


def _manifest_spaces(folder: str) -> dict:
    return dict(load_server(folder).manifest.get("spaces") or {})


class WWMEnv(gym.Env):
    """A Gymnasium environment whose every episode is one run of a WWM World.

    Args:
        target: the World's URL (``http://host/wwm/worlds/NAME`` or a CGI URL) or its folder.
        max_steps: truncate an episode after this many steps (None: only the World ends it).
        spaces: the ``[spaces]`` table to use instead of the World's own, or a
            server folder whose manifest declares them (for a gateway that does
            not report spaces in Describe).
        render_mode: ``"ansi"`` renders the current state's text.
        timeout: seconds to wait for one answer from a remote gateway.
        **params: the World's per-run parameters, passed to StartRun.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, target: str, *, max_steps: int | None = None, spaces: dict | str | None = None,
                 render_mode: str | None = None, timeout: float = 60.0, **params):
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', not {render_mode!r}")
        self.target, self.max_steps, self.render_mode, self.params = target, max_steps, render_mode, params
        self.server = connect(target, timeout=timeout)
        if self.server.describe().get("role") != "world":
            self.server.close()
            raise ValueError(f"{target} is not a World")
        table = _manifest_spaces(spaces) if isinstance(spaces, str) else spaces
        table = declared_spaces(self.server) if table is None else table
        limit = self._max_payload()
        self.obs_codec: Codec = codec(table.get("observation") or text_spec(limit))
        self.act_codec: Codec = codec(table.get("action") or text_spec(min(limit, 64)))
        self.observation_space = self.obs_codec.space
        self.action_space = self.act_codec.space
        # a World that speaks only XML gets its actions as <action>…</action>
        self.xml_actions = self.server.describe().get("formats", "text").split() == ["xml"]
        self.run: Run | None = None
        self.state, self.score, self.steps = "", "", 0

    def _max_payload(self) -> int:
        if isinstance(self.server.transport, LocalTransport):
            return int(self.server.transport.server.limits["max_payload"])
        return int(DEFAULT_LIMITS["max_payload"])

    def _observe(self, payload: str):
        state, reward = split_reward(payload)
        self.state = state
        try:
            return self.obs_codec.decode(state), reward
        except SpaceError as exc:
            raise SpaceError(f"the World {self.server.url} answered outside its observation space: {exc}") from None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._end_run()
        # Unseeded resets draw the run's seed from the env's generator, so
        # reset(seed=s) followed by reset() repeats, as Gymnasium expects.
        run_seed = seed if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
        self.run = self.server.start_run(run_seed, params={**self.params, **(options or {})})
        self.steps, self.score = 0, ""
        obs, _ = self._observe(self.run.get_state())
        return obs, {"state": self.state, "run": self.run.id}

    def step(self, action):
        if self.run is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            # same type rule as the World's answers: name the value and the space
            raise SpaceError(f"action {action!r} is not in the action space {self.action_space}")
        text = self.act_codec.encode_xml(action) if self.xml_actions else self.act_codec.encode(action)
        result = self.run.execute_action(text)
        self.steps += 1
        self.score = result.score
        obs, reward = self._observe(result.state)
        world_truncated = _score_says_truncated(result.score)
        truncated = world_truncated or (self.max_steps is not None and self.steps >= self.max_steps)
        terminated = result.done and not world_truncated
        return obs, 0.0 if reward is None else float(reward), terminated, truncated, \
            {"state": self.state, "score": result.score}

    def render(self):
        if self.render_mode == "ansi":
            return self.state
        return None

    def _end_run(self) -> None:
        if self.run is not None:
            run, self.run = self.run, None
            try:
                run.end()
            except Exception:  # ending is best effort: the gateway reaps idle runs
                pass

    def close(self) -> None:
        self._end_run()
        self.server.close()
        super().close()


def _score_says_truncated(score: str) -> bool:
    for line in (score or "").splitlines()[1:]:
        key, sep, value = line.partition(":")
        if sep and key.strip() == "truncated":
            return value.strip().lower() in ("yes", "true", "1")
    return False


def make_vec(target: str, n: int, *, mode: str = "async", **kwargs) -> gym.vector.VectorEnv:
    """``n`` runs of one World as a Gymnasium vector environment.

    ``mode="async"`` steps every run from its own process, so the gateway works
    on the runs at once; ``"sync"`` steps them one after another.
    """
    fns = [lambda: WWMEnv(target, **kwargs) for _ in range(n)]
    if mode == "async":
        return gym.vector.AsyncVectorEnv(fns)
    if mode == "sync":
        return gym.vector.SyncVectorEnv(fns)
    raise ValueError("mode must be async or sync")
