"""The fungus next-item model (PyTorch, CPU).

    history (item ids, oldest first, at most L)  ->  item embeddings e_1..e_L
    recency-weighted pooling:   p = sum_j a_j e_j,  a = softmax_j(r_{L-j} + log mask_j)
                                (r_d: a learned log-weight per distance d from the newest item,
                                initialised to -decay*d, so newer items weigh more)
    MLP with a residual:        h = p + W2 GELU(W1 p)      (W2 starts at zero: h = p at first)
    scores over the catalog:    logit_i = scale * <h, e_i> + b_i    (embeddings tied in and out)
    softmax over the catalog -> P(next item = i | history)

Item embeddings come from item side information where the catalog has it (the song catalog's
z-scored audio features and genres; ML-100k's genres and year):

    e_i = u_i + W f_i / |f_i|

``W`` (dim x n_features, learned, shared by all items) starts as a seeded orthonormal
projection and ``u_i`` (learned per item) starts near zero (N(0, 0.01^2)), so before any
training ``<e_i, e_j>`` is the cosine similarity of the two items' features and the model
ranks by similarity to the pooled history, a sensible cold start; training then learns a
metric over the features (fast: W is shared) and per-item corrections (u).  The features are a
fixed buffer rebuilt from the catalog, not part of the weights file.  Without features the
embeddings are free, N(0, 0.1^2).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

PAD = 0  # row 0 of the embedding table is padding; item k of the domain is row k + 1


class FungusModel(nn.Module):
    def __init__(self, n_items: int, dim: int = 64, hidden: int = 256, max_history: int = 50,
                 dropout: float = 0.2, decay: float = 0.05, scale: float = 1.0,
                 item_features: np.ndarray | None = None, seed: int = 0):
        super().__init__()
        if n_items < 1 or dim < 1 or hidden < 1 or max_history < 1:
            raise ValueError("n_items, dim, hidden and max_history must be positive")
        self.n_items = int(n_items)
        self.dim = int(dim)
        self.hidden = int(hidden)
        self.max_history = int(max_history)
        g = torch.Generator().manual_seed(int(seed))
        # item embedding e_i = u_i + W f_i: a free part u (learned per item) plus a learned
        # linear map W of the item's features (when the catalog has features)
        self.item_emb = nn.Embedding(self.n_items + 1, self.dim, padding_idx=PAD)
        if item_features is not None:
            F = torch.as_tensor(np.asarray(item_features, dtype=np.float64), dtype=torch.float32)
            if F.ndim != 2 or F.shape[0] != self.n_items:
                raise ValueError(f"item_features must have {self.n_items} rows")
            F = F / F.norm(dim=1, keepdim=True).clamp_min(1e-6)
            F = torch.cat([torch.zeros(1, F.shape[1]), F], 0)          # row 0: padding
            self.register_buffer("features", F, persistent=False)
            self.content = nn.Linear(F.shape[1], self.dim, bias=False)
            with torch.no_grad():
                self.content.weight.copy_(self._projection(F.shape[1], g).T)
                self.item_emb.weight.normal_(0.0, 0.01, generator=g)
        else:
            self.features = None
            self.content = None
            with torch.no_grad():
                self.item_emb.weight.normal_(0.0, 0.1, generator=g)
        with torch.no_grad():
            self.item_emb.weight[PAD].zero_()
        # recency log-weights, index d = distance from the newest item (0 = newest)
        self.recency = nn.Parameter(-decay * torch.arange(self.max_history, dtype=torch.float32))
        self.mlp = nn.Sequential(nn.Linear(self.dim, self.hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(self.hidden, self.dim))
        with torch.no_grad():
            lin1, lin2 = self.mlp[0], self.mlp[3]
            bound = 1.0 / math.sqrt(self.dim)
            lin1.weight.uniform_(-bound, bound, generator=g)
            lin1.bias.uniform_(-bound, bound, generator=g)
            lin2.weight.zero_()
            lin2.bias.zero_()
        self.log_scale = nn.Parameter(torch.tensor(math.log(scale), dtype=torch.float32))
        self.out_bias = nn.Parameter(torch.zeros(self.n_items))

    def _projection(self, f: int, g) -> torch.Tensor:
        """A fixed (seeded) f x dim matrix with orthonormal rows (f <= dim), so that at first
        <W f_i, W f_j> = cos(f_i, f_j)."""
        d = self.dim
        m = max(f, d)
        q, _ = torch.linalg.qr(torch.randn(m, m, generator=g))
        P = q[:f, :d]
        if f > d:
            P = P * math.sqrt(f / d)
        return P

    def embeddings(self) -> torch.Tensor:
        """(n_items + 1, dim): row 0 is padding (zero)."""
        E = self.item_emb.weight
        if self.content is not None:
            E = E + self.content(self.features)
        return E

    def pool(self, hist: torch.Tensor, E: torch.Tensor | None = None) -> torch.Tensor:
        """hist: (B, L) item rows (1-based, 0 = padding), left-padded: newest item last."""
        L = hist.shape[1]
        if L > self.max_history:
            hist = hist[:, -self.max_history:]
            L = self.max_history
        E = self.embeddings() if E is None else E
        e = E[hist]                                                   # (B, L, d)
        mask = hist != PAD
        r = self.recency[:L].flip(0).unsqueeze(0)                     # newest at the end
        w = torch.exp(r - r.max()) * mask                             # masked softmax; an
        w = w / w.sum(1, keepdim=True).clamp_min(1e-12)               # empty history pools to 0
        return (w.unsqueeze(-1) * e).sum(1)

    def forward(self, hist: torch.Tensor) -> torch.Tensor:
        E = self.embeddings()
        p = self.pool(hist, E)
        h = p + self.mlp(p)
        return self.log_scale.exp() * (h @ E[1:].T) + self.out_bias

    def config(self) -> dict:
        return {"n_items": self.n_items, "dim": self.dim, "hidden": self.hidden,
                "max_history": self.max_history}

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in self.state_dict().items()}
