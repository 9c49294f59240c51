"""Sequential recommenders for the ML-100k benchmark (PyTorch), trained and scored like fungus.

* :class:`SASRec` (Kang & McAuley 2018): causal self-attention over the item sequence, learned
  positions, embeddings shared with the output layer, trained on every position with
  cross-entropy over the whole catalog (the full-softmax variant, its strongest common form).
* :class:`GRU4Rec` (Hidasi et al. 2016): a GRU over the sequence, the same full-softmax
  cross-entropy on every position.
* :class:`RecencyKNN`: item-kNN from the last ``m`` items, ``score(i) = sum_d w^d cos(j_d, i)``
  (``j_d``: the item ``d`` steps back), cosine of co-occurrence in the users' training histories.
* :class:`EASE` (Steck 2019): a full-rank item-item linear model fitted in closed form to the
  users' training histories; a user's items (weighted ``exp(-recency * d)``) times its weights.
  Not sequential, but among the strongest item-based baselines for ranking the whole catalog.

Every model ranks all items; the caller masks the user's own items.  ``fit_epoch`` runs one
epoch; ``scores(histories)`` gives (B, n_items) scores.  Items are rows 1..n (0 = padding).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def left_pad(rows: list[int], L: int) -> list[int]:
    rows = rows[-L:]
    return [0] * (L - len(rows)) + rows


def windows(seqs: list[list[int]], L: int) -> list[list[int]]:
    """Each sequence cut, from its newest item back, into windows of ``L + 1`` items that
    overlap by one, left-padded: every item after the first is a target exactly once, with up
    to ``L`` items before it as context.  Keeping only the newest window (the original SASRec
    recipe) would leave out most of a long history (ML-100k: 106 items per user on average,
    up to 700)."""
    out = []
    for s in seqs:
        end = len(s)
        while end >= 2:
            out.append(left_pad(s[max(0, end - L - 1):end], L + 1))
            end -= L
    return out


class _SeqModel(nn.Module):
    """Shared training for sequence-to-sequence next-item models."""

    def __init__(self, n_items: int, L: int):
        super().__init__()
        self.n_items, self.L = n_items, L

    def hidden(self, x: torch.Tensor) -> torch.Tensor:     # (B, L) -> (B, L, d)
        raise NotImplementedError

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.emb.weight[1:].T

    @torch.no_grad()
    def scores(self, histories: list[list[int]]) -> torch.Tensor:
        self.eval()
        x = torch.tensor([left_pad(h, self.L) for h in histories])
        return self.logits(self.hidden(x)[:, -1])

    def fit_epoch(self, seqs: list[list[int]], opt, batch: int, gen: torch.Generator) -> float:
        """One pass over every window (:func:`windows`): inputs w[:-1], targets w[1:]."""
        self.train()
        X = torch.tensor(windows(seqs, self.L))
        perm = torch.randperm(len(X), generator=gen)
        tot, nb = 0.0, 0
        for b in range(0, len(X), batch):
            xb = X[perm[b:b + batch]]
            inp, tgt = xb[:, :-1], xb[:, 1:]
            mask = (tgt > 0) & (inp > 0)           # a sequence's first item is no target
            h = self.hidden(inp)[mask]
            loss = F.cross_entropy(self.logits(h), tgt[mask] - 1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item()
            nb += 1
        return tot / max(1, nb)


class SASRec(_SeqModel):
    def __init__(self, n_items: int, dim: int = 64, L: int = 50, layers: int = 2, heads: int = 1,
                 dropout: float = 0.2):
        super().__init__(n_items, L)
        self.emb = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.pos = nn.Embedding(L, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=dim, dropout=dropout,
                                           batch_first=True, norm_first=True, activation="gelu")
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)
        self.register_buffer("causal", torch.triu(torch.ones(L, L, dtype=torch.bool), 1),
                             persistent=False)
        nn.init.normal_(self.emb.weight, 0, 0.02)

    def hidden(self, x):
        L = x.shape[1]
        h = self.emb(x) * math.sqrt(self.emb.embedding_dim) + self.pos.weight[:L]
        h = self.drop(h) * (x > 0).unsqueeze(-1)
        h = self.enc(h, mask=self.causal[:L, :L])
        return self.norm(h)


class GRU4Rec(_SeqModel):
    def __init__(self, n_items: int, dim: int = 64, L: int = 50, dropout: float = 0.2):
        super().__init__(n_items, L)
        self.emb = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.gru = nn.GRU(dim, dim, batch_first=True)
        self.drop = nn.Dropout(dropout)
        nn.init.normal_(self.emb.weight, 0, 0.02)

    def hidden(self, x):
        h, _ = self.gru(self.drop(self.emb(x)))
        return h


class RecencyKNN:
    """Item-kNN over the last ``m`` items with weights ``w**d`` (no training epochs)."""

    def __init__(self, n_items: int, m: int = 3, w: float = 0.5):
        self.n, self.m, self.w = n_items, m, w

    def fit(self, seqs: list[list[int]]) -> "RecencyKNN":
        M = np.zeros((len(seqs), self.n), dtype=np.float32)
        for r, s in enumerate(seqs):
            M[r, [i - 1 for i in set(s)]] = 1.0
        C = M.T @ M
        n = np.diag(C).copy()
        np.fill_diagonal(C, 0.0)
        self.S = C / np.sqrt(np.maximum(n[:, None] * n[None, :], 1e-9))
        return self

    def scores(self, histories: list[list[int]]) -> torch.Tensor:
        out = np.zeros((len(histories), self.n), dtype=np.float32)
        for b, h in enumerate(histories):
            for d, j in enumerate(reversed(h[-self.m:])):
                out[b] += self.w ** d * self.S[j - 1]
        return torch.from_numpy(out)


class EASE:
    """``B = argmin |X - X B|^2 + lam |B|^2`` with ``diag(B) = 0`` (Steck 2019, closed form:
    ``P = (X^T X + lam I)^-1``, ``B = -P / diag(P)``), X the users' items in training.  A history
    scores ``x B`` with ``x_j = exp(-recency * d)`` for its item ``d`` steps back (0: all 1)."""

    def __init__(self, n_items: int, lam: float = 100.0, recency: float = 0.0):
        self.n, self.lam, self.recency = n_items, float(lam), float(recency)

    def fit(self, seqs: list[list[int]]) -> "EASE":
        X = np.zeros((len(seqs), self.n), dtype=np.float64)
        for r, s in enumerate(seqs):
            X[r, [i - 1 for i in s]] = 1.0
        G = X.T @ X + self.lam * np.eye(self.n)
        P = np.linalg.inv(G)
        B = -P / np.diag(P)
        np.fill_diagonal(B, 0.0)
        self.B = B.astype(np.float32)
        return self

    def scores(self, histories: list[list[int]]) -> torch.Tensor:
        x = np.zeros((len(histories), self.n), dtype=np.float32)
        for b, h in enumerate(histories):
            d = np.arange(len(h) - 1, -1, -1, dtype=np.float32)
            np.maximum.at(x[b], [i - 1 for i in h], np.exp(-self.recency * d))
        return torch.from_numpy(x @ self.B)
