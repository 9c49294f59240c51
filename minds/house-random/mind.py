"""house-random Mind: a random action each step (N, S, E, W or stay), seeded by WWM_SEED.

The baseline every other house Mind should beat.  Plain action text, no notes.
"""
from __future__ import annotations

import os
import random

ACTIONS = ("N", "S", "E", "W", "stay")


def make_rng() -> random.Random:
    try:
        seed = int(os.environ.get("WWM_SEED", "1"))
    except ValueError:
        seed = 1
    return random.Random(seed)


if __name__ == "__main__":
    from wwm.program import Mind, serve_mind

    class RandomMind(Mind):
        """One generator per run, so a run is repeatable under its seed."""

        def __init__(self) -> None:
            self.rng = make_rng()

        def act(self, step) -> str:
            return self.rng.choice(ACTIONS) + "\n"

    serve_mind(RandomMind)
