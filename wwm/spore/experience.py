"""A node's own experience of the song World, and its held-out validation requests.

The node's community (``wwm.songs.listeners.Community``) is split by listener: the first
``1 - holdout`` of its listeners ask the requests the node learns from; the rest are held out,
and their requests are the node's validation set, never shared with any peer.  Learning follows
the World's loop: the model answers a request with 10 songs, the listener chooses with the
World's choice model, and the learner observes what was accepted or meant (``observe``).

The validation score is the **expected reward**: the probability that the held-out listener
accepts a song from the model's list, computed exactly from the World's choice model
(``1 - P(no choice)``), so that two models are compared without sampling noise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wwm.songs.listeners import Community, choice_probabilities, choose, rng_for

__all__ = ["Experience", "ValidationCase"]


@dataclass
class ValidationCase:
    history: list[str]
    p_star: np.ndarray


class Experience:
    """Requests from one community: training requests one after another, a fixed validation set.

    Args:
        catalog: the song catalog.
        community: the community's name (a preset or any name).
        size: listeners in the community.
        holdout: the share of listeners held out for validation.
        validation: how many validation requests.
        seed: drives which listener asks what.
    """

    def __init__(self, catalog, community: str, *, size: int = 100, holdout: float = 0.2, validation: int = 200,
                 seed: int = 0):
        self.catalog = catalog
        self.community = Community(catalog, community, size=size)
        cut = max(1, int(round(size * (1.0 - holdout))))
        self.train_listeners = self.community.listeners[:cut]
        self.val_listeners = self.community.listeners[cut:] or self.community.listeners[-1:]
        self.seed = seed
        self.t = 0
        self.validation = [self._case(self.val_listeners, rng_for("spore-val", self.community.name, seed, k))
                           for k in range(validation)]

    def _request(self, listeners, rng):
        c = self.community
        u = listeners[int(rng.integers(len(listeners)))]
        recent: list[int] = []
        for _ in range(int(rng.integers(1, 4))):
            recent.append(c.sample_track(u, rng, None, recent))
        seed = recent[-1]
        return u, recent, seed

    def _case(self, listeners, rng) -> ValidationCase:
        u, recent, seed = self._request(listeners, rng)
        p = self.community.intent(u, seed, recent)
        return ValidationCase([self.catalog.ids[i] for i in recent], p)

    def learn(self, learner, steps: int) -> dict:
        """Play ``steps`` training requests with ``learner`` and let it learn; returns the mean reward."""
        ids, index = self.catalog.ids, self.catalog.index
        total = 0.0
        for _ in range(steps):
            rng = rng_for("spore-train", self.community.name, self.seed, self.t)
            self.t += 1
            u, recent, seed = self._request(self.train_listeners, rng)
            history = [ids[i] for i in recent]
            p = self.community.intent(u, seed, recent)
            slate_ids = learner.recommend(history, k=10)
            slate = [index.get(x) for x in slate_ids]
            pick = choose(p, slate, rng)
            target = int(rng.choice(len(p), p=p))
            accepted = slate_ids[pick] if pick is not None else None
            reward = 1.0 if accepted is not None else 0.0
            total += reward
            learner.observe(history, accepted or ids[target], slate=slate_ids, reward=reward, accepted=accepted)
        return {"steps": steps, "train_reward": total / max(1, steps)}

    def score(self, learner) -> float:
        """Expected reward of ``learner`` on the held-out validation requests."""
        index = self.catalog.index
        lists = learner.rank_batch([c.history for c in self.validation], k=10)
        total = 0.0
        for case, ranked in zip(self.validation, lists):
            _, p_none = choice_probabilities(case.p_star, [index.get(x) for x in ranked])
            total += 1.0 - p_none
        return total / max(1, len(self.validation))
