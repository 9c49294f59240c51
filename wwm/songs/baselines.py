"""Baseline recommenders (numpy only): random, popularity, item-kNN.

All rank over the domain's whole item set and leave out the items of the request itself (its
history / seed), as the leave-one-out protocol expects.  They learn online from the feedback in
the states (``observe``) and can be fitted on a log's training part (``fit``), which is what the
replay World's train mode would teach them step by step.

* :class:`RandomRec`   uniform random items (seeded: the same run gives the same lists).
* :class:`PopularityRec` items by how often they were played (``listened``) so far; ties and
  cold start by the domain's prior (catalog popularity for songs).
* :class:`ItemKNNRec` from the request's last item (the seed, else the latest listen):
  ``score(i) = cooc(last, i) + lambda * content(last, i)``, where ``cooc`` is the cosine of the
  two items' listener sets (``C[j,i] / sqrt(n_j n_i)``, from co-listening per user/listener) and
  ``content`` the cosine of the item features (z-scored audio features, genre and popularity
  for songs, lambda = 1; for ML-100k lambda = 0 by default, pure co-occurrence from the last
  item, the reference protocol's item-kNN).
"""
from __future__ import annotations

import numpy as np

from .listeners import rng_for
from .mindkit import Domain, top_k
from .request import Request


class _Base:
    name = "base"

    def __init__(self, domain: Domain, seed: int = 0):
        self.domain = domain
        self.seed = seed
        self.calls = 0

    def _exclude(self, req: Request) -> list[int]:
        return self.domain.indices(req.history)

    def observe(self, req, slate, reward, accepted, listened) -> None:
        pass

    def fit(self, train: dict[str, list[str]]) -> "_Base":
        return self


class RandomRec(_Base):
    name = "random"

    def recommend(self, req: Request, k: int = 10) -> list[str]:
        self.calls += 1
        rng = rng_for("random-mind", self.seed, self.calls)
        excl = set(self._exclude(req))
        n = len(self.domain)
        out: list[int] = []
        while len(out) < min(k, n - len(excl)):
            i = int(rng.integers(n))
            if i not in excl and i not in out:
                out.append(i)
        return [self.domain.items[i] for i in out]


class PopularityRec(_Base):
    name = "popularity"

    def __init__(self, domain: Domain, seed: int = 0, prior_weight: float = 1e-3):
        super().__init__(domain, seed)
        self.counts = np.zeros(len(domain))
        self.prior_weight = prior_weight

    def fit(self, train: dict[str, list[str]]) -> "PopularityRec":
        for seq in train.values():
            for i in self.domain.indices(seq):
                self.counts[i] += 1
        return self

    def observe(self, req, slate, reward, accepted, listened) -> None:
        if listened is not None and listened in self.domain.index:
            self.counts[self.domain.index[listened]] += 1

    def recommend(self, req: Request, k: int = 10) -> list[str]:
        s = self.counts + self.prior_weight * self.domain.prior
        return [self.domain.items[i] for i in top_k(s, k, self._exclude(req))]


class ItemKNNRec(_Base):
    name = "itemknn"

    def __init__(self, domain: Domain, seed: int = 0, content_weight: float | None = None):
        super().__init__(domain, seed)
        n = len(domain)
        if content_weight is None:   # songs: audio features matter; ML-100k: co-occurrence
            content_weight = 1.0 if domain.catalog is not None else 0.0
        self.content_weight = content_weight
        F = domain.features
        if F is not None and len(F):
            norms = np.linalg.norm(F, axis=1, keepdims=True)
            self.F = F / np.maximum(norms, 1e-9)
        else:
            self.F = None
        self.n = np.zeros(n)                            # listeners per item
        self.user_items: dict[str, set[int]] = {}
        self.C: dict[int, dict[int, float]] = {}        # sparse co-occurrence (online)
        self.dense: np.ndarray | None = None            # dense co-occurrence (after fit)

    # --------------------------------------------------------------- learning
    def fit(self, train: dict[str, list[str]]) -> "ItemKNNRec":
        n = len(self.domain)
        M = np.zeros((len(train), n), dtype=np.float32)
        for r, (u, seq) in enumerate(train.items()):
            idx = sorted(set(self.domain.indices(seq)))
            M[r, idx] = 1.0
            self.user_items[u] = set(idx)
        C = (M.T @ M).astype(np.float64)
        self.n = np.diag(C).copy()
        np.fill_diagonal(C, 0.0)
        self.dense = C
        return self

    def _add(self, user: str, i: int) -> None:
        items = self.user_items.setdefault(user, set())
        if i in items:
            return
        for j in items:
            if self.dense is not None:
                self.dense[i, j] += 1
                self.dense[j, i] += 1
            else:
                self.C.setdefault(i, {})[j] = self.C.get(i, {}).get(j, 0.0) + 1
                self.C.setdefault(j, {})[i] = self.C.get(j, {}).get(i, 0.0) + 1
        items.add(i)
        self.n[i] += 1

    def observe(self, req, slate, reward, accepted, listened) -> None:
        user = req.listener or "?"
        for i in self.domain.indices(req.history):
            self._add(user, i)
        if listened is not None and listened in self.domain.index:
            self._add(user, self.domain.index[listened])

    # --------------------------------------------------------------- scoring
    def _cooc_row(self, j: int) -> np.ndarray:
        n = len(self.domain)
        if self.dense is not None:
            row = self.dense[j]
        else:
            row = np.zeros(n)
            for i, c in self.C.get(j, {}).items():
                row[i] = c
        denom = np.sqrt(np.maximum(self.n, 1e-9) * max(self.n[j], 1e-9))
        return row / denom

    def scores(self, req: Request) -> np.ndarray:
        hist = self.domain.indices(req.history)
        s = 1e-6 * self.domain.prior.copy()
        if not hist:
            return s + self.n * 1e-3
        j = hist[-1]
        s += self._cooc_row(j)
        if self.F is not None and self.content_weight:
            s += self.content_weight * (self.F @ self.F[j])
        return s

    def recommend(self, req: Request, k: int = 10) -> list[str]:
        return [self.domain.items[i] for i in top_k(self.scores(req), k, self._exclude(req))]


BASELINES = {"random": RandomRec, "popularity": PopularityRec, "itemknn": ItemKNNRec}


def make_baseline(name: str, domain: Domain, seed: int = 0, fit_log: bool = True):
    """A baseline for ``domain``; for ML-100k it is first fitted on the log's training part."""
    rec = BASELINES[name](domain, seed=seed)
    if fit_log and domain.name == "ml-100k" and name != "random":
        from .replay import load_ml100k
        train, _ = load_ml100k().split()
        rec.fit(train)
    return rec


__all__ = ["RandomRec", "PopularityRec", "ItemKNNRec", "BASELINES", "make_baseline"]
