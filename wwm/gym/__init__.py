"""Gymnasium both ways: any WWM World as a ``gymnasium.Env``, any Gymnasium environment as a World.

- :class:`WWMEnv` (and :func:`make_vec` for vector environments) steps a World by URL or folder;
- :mod:`wwm.gym.world` serves a registered Gymnasium environment through the file protocol;
- :mod:`wwm.gym.mapping` holds the declared spaces and their text/XML rules.

See docs/gymnasium.md.
"""
from wwm.gym.env import WWMEnv, declared_spaces, make_vec
from wwm.gym.mapping import SpaceError, codec, spec_of

__all__ = ["WWMEnv", "make_vec", "declared_spaces", "SpaceError", "codec", "spec_of"]
