"""The fungus Mind's online gate: how much to trust each of its score sources, learned from
what the listeners played.

The final score of item i for a request is a weighted sum of K score sources::

    s_i = sum_k a_k z_k(i)        P(next = i) = softmax_i(s)   (the request's own items left out)

(for songs: the network's logits plus its co-listening memory, and the catalog's artist
credits shared with the request's song).  The weights ``a`` are fitted online by maximum
likelihood of the item the listener went on to play (``listened``, revealed by the World after
every request): one Adagrad step on ``-log P(listened)``, whose gradient is
``E_P[z_k] - z_k(listened)``.  The loss is convex in ``a``, K is small and every request is an
example, so the gate settles within tens of requests, long before the network's own weights
do, and keeps following how much each source predicts as the network learns.
"""
from __future__ import annotations

import numpy as np


class OnlineGate:
    def __init__(self, init: dict[str, float], lr: float = 1.0, g2: float = 10.0):
        self.names = list(init)
        self.a = np.array([float(init[k]) for k in self.names])
        self.lr = float(lr)
        # Adagrad's sum of squared gradients starts at g2 (not ~0), so that the first steps,
        # taken on a handful of requests, stay small
        self._g2 = np.full(len(self.a), float(g2))
        self.updates = 0

    def combine(self, Z: np.ndarray) -> np.ndarray:
        """Z: (K, n_items) source scores -> (n_items,) combined scores."""
        return self.a @ Z

    def update(self, Z: np.ndarray, target: int, exclude: list[int] | None = None) -> float:
        """One Adagrad step on -log softmax(a @ Z)[target] (``exclude``: items out of the
        ranking); returns the loss before the step."""
        s = self.a @ Z
        if exclude:
            s = s.copy()
            s[[j for j in exclude if j != target]] = -np.inf
        m = s.max()
        p = np.exp(s - m)
        total = p.sum()
        p /= total
        loss = float(np.log(total) - (s[target] - m))
        fin = np.isfinite(s)
        grad = Z[:, fin] @ p[fin] - Z[:, target]
        self._g2 += grad ** 2
        self.a -= self.lr * grad / np.sqrt(self._g2)
        self.updates += 1
        return loss

    def weights(self) -> dict[str, float]:
        return {k: float(v) for k, v in zip(self.names, self.a)}
