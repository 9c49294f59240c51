"""Simulated listeners (RecSim-style, Ie et al. 2019): tastes, communities, the choice model.

Everything here is documented with formulas in docs/songs.md; the short version:

* A **community** (the listeners one node serves) is a mixture over the catalog's genres
  ``pi_c`` plus a popularity appetite ``rho_c`` and a "local scene": a per-track appeal ``q_i``
  (some songs are simply loved by this crowd).  Named presets: ``mixed``, ``metal``, ``club``,
  ``country``, ``hiphop``; any other name gets a mixture drawn from a Dirichlet seeded by the
  SHA-256 of the name.  The community fixes its population of listeners; the run seed only drives
  which listener asks what, so every node with the same community sees the same people.
* A **listener** u has a genre taste ``theta_u`` (Dirichlet around a primary genre drawn from
  ``pi_c``), an ideal point ``mu_u`` in the z-scored audio-feature space with per-feature
  sensitivities ``s_u``, a popularity appetite ``rho_u`` and a "songs like X" sensitivity
  ``lambda_u``.
* **Affinity** of u for track i in context (seed track s, or none)::

      a(u,i|s) = A_G log(max_g theta_u[g] G[i,g] + eps) - A_F mean_k s_uk (x_ik - mu_uk)^2
                 + A_P rho_u zpop_i + A_Q q_i + lambda_u A_S sim(i, s)
      sim(i,s) = exp(-|x_i - x_s|^2 / (2 F h^2)) + B_G [same genre] + B_A [shared artist]

* The listener's **intended next song** t* ~ p*(i) = softmax_i(tau a(u,i|s)) over the catalog
  without the tracks in the request (seed and recent listens).
* **Choice** from a slate (RecSim's multinomial logit with a no-click option): the item at rank
  r (1-based) has weight ``v_j = p*(j) / log2(r + 1)``; the null option has weight ``beta``;
  the listener takes j with probability ``v_j / (beta + sum v)`` and nothing otherwise.

All randomness comes from numpy Generators seeded from SHA-256 of explicit strings, so the same
(community, seed) gives the same run on every machine.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .catalog import Catalog

# affinity weights (see docs/songs.md)
A_G = 1.0      # genre taste
A_F = 0.6      # audio ideal point
A_P = 0.5      # popularity appetite
A_Q = 0.7      # community scene appeal
A_S = 2.5      # similarity to the seed ("songs like X")
B_G = 0.3      # same-genre bonus inside sim
B_A = 0.5      # shared-artist bonus inside sim
EPS = 0.02
SIM_H = 0.6
TAU = 2.0      # choice temperature
BETA = 0.05    # weight of the no-choice option

PRESETS: dict[str, dict[str, float]] = {
    "mixed": {},  # uniform
    "metal": {"metal": 0.55, "rock": 0.35, "dubstep": 0.10},
    "club": {"deep-house": 0.45, "dubstep": 0.30, "hip-hop": 0.25},
    "country": {"country": 0.60, "rock": 0.30, "hip-hop": 0.10},
    "hiphop": {"hip-hop": 0.60, "deep-house": 0.20, "dubstep": 0.20},
}


def rng_for(*parts: object) -> np.random.Generator:
    """A numpy Generator seeded from SHA-256 of the parts (stable across runs and machines)."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(h[:16], "little")))


def community_key(name: str) -> str:
    key = "".join(ch for ch in (name or "mixed").strip().lower() if ch.isalnum() or ch in "-_.")
    return key[:64] or "mixed"


@dataclass
class Listener:
    id: str
    theta: np.ndarray      # genre taste, sums to 1
    mu: np.ndarray         # ideal point in taste-feature space
    s: np.ndarray          # per-feature sensitivity
    rho: float             # popularity appetite
    lam: float             # seed sensitivity
    base: np.ndarray       # a(u, i) without the seed term, for every track


class Community:
    """A population of listeners with a shared mixture of tastes."""

    def __init__(self, catalog: Catalog, name: str = "mixed", size: int = 100):
        self.catalog = catalog
        self.name = community_key(name)
        self.size = int(size)
        if not 1 <= self.size <= 10000:
            raise ValueError("community size must be 1..10000")
        G = len(catalog.genres)
        rng = rng_for("community", self.name)
        if self.name in PRESETS:
            spec = PRESETS[self.name]
            pi = np.array([spec.get(g, 0.0) for g in catalog.genres]) if spec else np.ones(G)
        else:
            pi = rng.dirichlet(np.full(G, 0.7))
        self.pi = pi / pi.sum()
        self.rho = float(rng.normal(0.0, 0.7)) if self.name not in PRESETS else \
            {"mixed": 0.0, "metal": -0.3, "club": 0.5, "country": 0.8, "hiphop": 1.0}[self.name]
        n = len(catalog)
        self.q = rng.normal(0.0, 1.0, size=n)                    # the local scene
        X = catalog.features[:, catalog.taste_columns]
        self.X = X
        self.F = X.shape[1]
        self.zpop = (catalog.popularity - catalog.popularity.mean()) / (catalog.popularity.std() or 1)
        # genre centroids in taste space
        Gm = catalog.genre_matrix
        self.centroids = (Gm.T @ X) / np.maximum(Gm.sum(0)[:, None], 1)
        self._artists = [sorted(set(a.lower() for a in t.artist_list)) for t in catalog.tracks]
        by_artist: dict[str, list[int]] = {}
        for i, arts in enumerate(self._artists):
            for a in arts:
                by_artist.setdefault(a, []).append(i)
        self._artist_tracks = {a: np.array(v, dtype=np.int64) for a, v in by_artist.items()}
        self.listeners = [self._make_listener(k) for k in range(self.size)]

    def _make_listener(self, k: int) -> Listener:
        rng = rng_for("listener", self.name, k)
        G = len(self.catalog.genres)
        g = int(rng.choice(G, p=self.pi))
        alpha = 0.2 + 2.0 * self.pi + 4.0 * np.eye(G)[g]
        theta = rng.dirichlet(alpha)
        mu = theta @ self.centroids + rng.normal(0.0, 0.4, size=self.F)
        s = rng.uniform(0.5, 1.5, size=self.F)
        rho = self.rho + float(rng.normal(0.0, 0.5))
        lam = float(rng.uniform(0.5, 1.5))
        gtaste = (self.catalog.genre_matrix * theta[None, :]).max(axis=1)
        base = (A_G * np.log(gtaste + EPS)
                - A_F * ((self.X - mu[None, :]) ** 2 * s[None, :]).mean(axis=1)
                + A_P * rho * self.zpop
                + A_Q * self.q)
        return Listener(id=f"L{k:03d}", theta=theta, mu=mu, s=s, rho=rho, lam=lam, base=base)

    # ------------------------------------------------------------------ the model
    def similarity(self, seed: int) -> np.ndarray:
        d2 = ((self.X - self.X[seed][None, :]) ** 2).sum(axis=1)
        sim = np.exp(-d2 / (2.0 * self.F * SIM_H ** 2))
        Gm = self.catalog.genre_matrix
        sim = sim + B_G * (Gm @ Gm[seed] > 0)
        shared = np.zeros(len(sim), dtype=bool)
        for a in self._artists[seed]:
            shared[self._artist_tracks[a]] = True
        return sim + B_A * shared

    def affinity(self, u: Listener, seed: int | None) -> np.ndarray:
        if seed is None:
            return u.base
        return u.base + u.lam * A_S * self.similarity(seed)

    def intent(self, u: Listener, seed: int | None, exclude: list[int]) -> np.ndarray:
        """p*(i): the distribution of the listener's intended next song."""
        z = TAU * self.affinity(u, seed)
        if exclude:
            z = z.copy()
            z[exclude] = -np.inf
        z = z - z.max()
        p = np.exp(z)
        return p / p.sum()

    def sample_track(self, u: Listener, rng: np.random.Generator, seed: int | None = None,
                     exclude: list[int] | None = None) -> int:
        p = self.intent(u, seed, exclude or [])
        return int(rng.choice(len(p), p=p))


def choice_probabilities(p_star: np.ndarray, slate: list[int | None]) -> tuple[np.ndarray, float]:
    """Per-slot probability that the listener takes the item at that rank, and the probability
    of taking nothing.  ``None`` slots (unknown ids, duplicates) have weight 0."""
    v = np.zeros(len(slate))
    for r, j in enumerate(slate):
        if j is not None:
            v[r] = p_star[j] / np.log2(r + 2.0)
    total = BETA + v.sum()
    return v / total, BETA / total


def choose(p_star: np.ndarray, slate: list[int | None], rng: np.random.Generator) -> int | None:
    """Sample the listener's choice: a slot index (0-based rank) or None for no choice."""
    probs, p_none = choice_probabilities(p_star, slate)
    u = rng.random()
    acc = 0.0
    for r, pr in enumerate(probs):
        acc += pr
        if u < acc:
            return r
    return None
