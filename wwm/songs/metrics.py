"""Ranking metrics with one relevant item per request (leave-one-out): HR@k and NDCG@k.

With a single relevant item t and a ranked list L, ``rank`` is t's 1-based position in L,
``HR@k = [rank <= k]`` and ``NDCG@k = 1/log2(rank + 1)`` if ``rank <= k`` else 0 (the ideal DCG
is 1).  Averages are over requests.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence


def rank_of(ranked: Sequence, target) -> int | None:
    """1-based position of ``target`` in ``ranked``, or None."""
    for r, x in enumerate(ranked, 1):
        if x == target:
            return r
    return None


def hit_at_k(ranked: Sequence, target, k: int = 10) -> float:
    r = rank_of(ranked[:k], target)
    return 1.0 if r is not None else 0.0


def ndcg_at_k(ranked: Sequence, target, k: int = 10) -> float:
    r = rank_of(ranked[:k], target)
    return 1.0 / math.log2(r + 1) if r is not None else 0.0


def gain(rank: int | None, k: int = 10) -> float:
    """NDCG@k contribution of a 1-based rank (None: not in the list)."""
    return 1.0 / math.log2(rank + 1) if rank is not None and rank <= k else 0.0


@dataclass
class RankingScore:
    """Running HR@k / NDCG@k (and mean reward) over requests."""
    k: int = 10
    n: int = 0
    hits: float = 0.0
    ndcg: float = 0.0
    reward: float = 0.0
    history: list = field(default_factory=list)   # per-request (hit, ndcg, reward)

    def add(self, rank: int | None, reward: float | None = None) -> None:
        h = 1.0 if rank is not None and rank <= self.k else 0.0
        g = gain(rank, self.k)
        self.n += 1
        self.hits += h
        self.ndcg += g
        self.reward += (reward if reward is not None else g)
        self.history.append((h, g, reward))

    @property
    def hr(self) -> float:
        return self.hits / self.n if self.n else 0.0

    @property
    def ndcg_mean(self) -> float:
        return self.ndcg / self.n if self.n else 0.0

    @property
    def mean_reward(self) -> float:
        return self.reward / self.n if self.n else 0.0

    def as_dict(self) -> dict:
        return {"n": self.n, f"hr@{self.k}": self.hr, f"ndcg@{self.k}": self.ndcg_mean,
                "mean_reward": self.mean_reward}


def evaluate(rankings: Iterable[Sequence], targets: Iterable, k: int = 10) -> dict:
    """HR@k and NDCG@k of ranked lists against one target each."""
    s = RankingScore(k=k)
    for ranked, t in zip(rankings, targets):
        s.add(rank_of(list(ranked)[:k], t))
    return {"n": s.n, f"hr@{k}": s.hr, f"ndcg@{k}": s.ndcg_mean}
