"""Serve a registered Gymnasium environment as a WWM World (Program 1, file protocol).

A World folder made by ``wwm new world NAME --gymnasium ENV_ID`` holds a
``world.py`` that calls :func:`serve_gymnasium`, and a manifest whose
``[spaces]`` table (from :func:`manifest`) declares the environment's spaces.

Each run makes its own environment and resets it with the run's seed. A state
is the observation in the text form of docs/gymnasium.md (a Box: numbers
separated by spaces); an action is read by the same rules. An action outside
the action space does not step the environment: by default it earns the
``penalty`` (-1) and the state stays as it was (counted as ``invalid_actions``
in the score); with ``invalid="error"`` the run ends with the reason
(HTTP 502 to the Mind's client). Either way the World keeps serving its
other runs. The score is the sum of rewards, then ``steps``,
``invalid_actions`` and ``truncated: yes|no`` (the time limit, not a failure,
ended the run: WWMEnv reports it as ``truncated``).
"""
from __future__ import annotations

import gymnasium as gym

from wwm.gym.mapping import SpaceError, codec, format_value, spec_of, to_toml
from wwm.program import World, serve_world

__all__ = ["GymWorld", "serve_gymnasium", "manifest"]

INVALID = ("penalty", "error")


class GymWorld(World):
    """One run of a Gymnasium environment; subclass with ``env_id`` set, or use serve_gymnasium."""

    env_id: str = ""
    make_kwargs: dict = {}
    invalid: str = "penalty"
    penalty: float = -1.0

    def reset(self, seed: int) -> str:
        self.env = gym.make(self.env_id, **self.make_kwargs)
        self.obs_codec = codec(spec_of(self.env.observation_space))
        self.act_codec = codec(spec_of(self.env.action_space))
        obs, _ = self.env.reset(seed=seed)
        self.t = self.invalid_count = 0
        self.total, self.truncated = 0.0, False
        self.state = self.obs_codec.encode(obs)
        return self.state

    def step(self, action: str) -> tuple[str, float, bool]:
        try:
            value = self.act_codec.decode(action)
        except SpaceError as exc:
            if self.invalid == "error":
                raise SpaceError(f"action outside the action space of {self.env_id}: {exc}") from None
            self.invalid_count += 1
            self.total += self.penalty
            return self.state, self.penalty, False
        obs, reward, terminated, truncated, _ = self.env.step(value)
        self.t += 1
        self.total += float(reward)
        self.truncated = bool(truncated and not terminated)
        self.state = self.obs_codec.encode(obs)
        return self.state, float(reward), bool(terminated or truncated)

    def score(self) -> str:
        return (f"{format_value(self.total)}\nsteps: {self.t}\ninvalid_actions: {self.invalid_count}\n"
                f"truncated: {'yes' if self.truncated else 'no'}\n")

    def end(self) -> None:
        if getattr(self, "env", None) is not None:
            self.env.close()


def serve_gymnasium(env_id: str, *, invalid: str = "penalty", penalty: float = -1.0, **make_kwargs) -> None:
    """Serve ``gymnasium.make(env_id, **make_kwargs)`` as a World until the gateway stops it."""
    if invalid not in INVALID:
        raise ValueError(f"invalid must be one of {', '.join(INVALID)}")
    cls = type("Served", (GymWorld,), {"env_id": env_id, "make_kwargs": make_kwargs,
                                       "invalid": invalid, "penalty": float(penalty)})
    serve_world(cls)


def manifest(name: str, env_id: str) -> str:
    """The wwm.toml of a World serving ``env_id``: its spaces read from the environment."""
    env = gym.make(env_id)
    try:
        obs, act = spec_of(env.observation_space), spec_of(env.action_space)
        limit = env.spec.max_episode_steps if env.spec else None
    finally:
        env.close()
    ends = f" Episodes end after {limit} steps at most." if limit else ""
    return (f'kind = "world"\nname = "{name}"\n'
            f'description = "The Gymnasium environment {env_id}, served as a World.{ends}"\n'
            f'author = "wwm"\ncommand = "python3 ./world.py"\nformats = ["text"]\n'
            # per-run: the helper gives a shared process the first run's seed for every run
            f'instances = "per-run"\n\n'
            f"# Gymnasium spaces (docs/gymnasium.md), read from {env_id} when this folder was made.\n"
            f"[spaces]\nobservation = {to_toml(obs)}\naction = {to_toml(act)}\n")


WORLD_PY = '''"""The Gymnasium environment {env_id} as a WWM World (docs/gymnasium.md).

An action outside the action space earns a reward of -1 and leaves the state
as it was; pass invalid="error" to end the run with the reason instead.
"""
from wwm.gym.world import serve_gymnasium

serve_gymnasium({env_id!r}, invalid="penalty", penalty=-1.0)
'''
